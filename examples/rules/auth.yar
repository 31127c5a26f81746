/*
 * auth.yar - detections over sshd / auth.log style streams, for `make demo`.
 * Every rule here is one weir evaluates exactly as yara does.
 */

rule ssh_failed_password : auth bruteforce
{
    meta:
        description = "a password login failed"
        severity = 3
    strings:
        $failed = "Failed password for "
    condition:
        $failed
}

rule ssh_bruteforce : auth bruteforce
{
    meta:
        description = "five or more failed passwords in one stream"
        severity = 7
        mitre = "T1110.001"
    strings:
        $failed = "Failed password for "
    condition:
        #failed >= 5
}

rule ssh_invalid_user : auth
{
    meta:
        description = "login attempt for an account that does not exist"
        severity = 4
    strings:
        $invalid = /[Ii]nvalid user [a-z0-9_.-]+ from [0-9]{1,3}(\.[0-9]{1,3}){3}/
    condition:
        $invalid
}

rule ssh_root_login : auth privileged
{
    meta:
        description = "root logged in over ssh"
        severity = 8
        alert = true
    strings:
        $root = /Accepted (password|publickey) for root from/
    condition:
        $root
}

rule ssh_break_in_attempt : auth
{
    meta:
        description = "reverse DNS does not match: sshd's POSSIBLE BREAK-IN ATTEMPT"
        severity = 5
    strings:
        $msg = "POSSIBLE BREAK-IN ATTEMPT" nocase
    condition:
        $msg
}

rule sudo_to_root_shell : privesc
{
    meta:
        description = "sudo ran an interactive root shell"
        severity = 9
    strings:
        $sudo = "sudo:" fullword
        $shell = /COMMAND=\/(usr\/)?bin\/(ba|z|da)?sh /
    condition:
        $sudo and $shell
}

rule reverse_shell_payload : payload
{
    meta:
        description = "bash /dev/tcp reverse shell in a logged command line"
        severity = 10
    strings:
        // "/dev/tcp/" as hex bytes
        $devtcp = { 2F 64 65 76 2F 74 63 70 2F }
        $bash_i = "bash -i" ascii wide
    condition:
        $devtcp and $bash_i
}

rule noisy_scanner_then_success : auth
{
    meta:
        description = "an invalid user, then an accepted login later in the stream"
        severity = 9
    strings:
        $invalid = "Invalid user "
        $accepted = "Accepted password for "
    condition:
        $invalid and $accepted and @accepted[1] > @invalid[1]
}
