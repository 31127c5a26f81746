/*
 * logs.yar - log-detection rules for `make bench`: the kind of rule set a
 * log pipeline runs over syslog, sshd, web, Hadoop/Spark, HPC and Windows
 * logs.  Literals, nocase, fullword, a few hex strings and regexes, and
 * conditions with counts and offsets.  Written against the loghub samples
 * (../shared/corpora/logs/loghub), so that some rules fire and most do not.
 */

// ---- authentication ------------------------------------------------------

rule auth_failed_password : auth
{
    meta:
        severity = 3
    strings:
        $a = "Failed password for "
    condition:
        $a
}

rule auth_bruteforce : auth bruteforce
{
    meta:
        severity = 7
        mitre = "T1110"
    strings:
        $a = "Failed password for "
        $b = "authentication failure;"
    condition:
        #a >= 10 or #b >= 10
}

rule auth_invalid_user : auth
{
    strings:
        $a = /[Ii]nvalid user [A-Za-z0-9_.-]+ from [0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}/
    condition:
        $a
}

rule auth_root_failure : auth privileged
{
    strings:
        $a = "Failed password for root from "
        $b = /authentication failure;.{0,80} user=root/
    condition:
        any of them
}

rule auth_break_in_attempt : auth
{
    strings:
        $a = "POSSIBLE BREAK-IN ATTEMPT" nocase
    condition:
        $a
}

rule auth_too_many_failures : auth
{
    strings:
        $a = "Too many authentication failures" nocase
        $b = "maximum authentication attempts exceeded" nocase
    condition:
        any of them
}

rule auth_disconnect_preauth : auth
{
    strings:
        $a = "Received disconnect from "
        $b = "[preauth]"
    condition:
        #a > 20 and #b > 20
}

rule auth_pam_unknown_user : auth
{
    strings:
        $a = "check pass; user unknown"
    condition:
        #a >= 3
}

rule auth_session_root : auth
{
    strings:
        $a = "session opened for user root" fullword
    condition:
        $a
}

rule auth_su_or_sudo : privesc
{
    strings:
        $su = /\bsu(\(pam_unix\))?\[[0-9]+\]: /
        $sudo = "sudo:" fullword
        $cmd = "COMMAND="
    condition:
        $su or ($sudo and $cmd)
}

rule auth_accepted_after_failures : auth
{
    meta:
        severity = 9
    strings:
        $f = "Failed password for "
        $ok = /Accepted (password|publickey) for /
    condition:
        #f >= 3 and $ok and @ok[1] > @f[1]
}

// ---- web servers ---------------------------------------------------------

rule web_apache_error : web
{
    strings:
        $a = "] [error] "
    condition:
        #a >= 50
}

rule web_mod_jk_error_state : web
{
    strings:
        $a = "workerEnv in error state"
    condition:
        $a
}

rule web_directory_traversal : web attack
{
    meta:
        mitre = "T1083"
    strings:
        $a = "../../"
        $b = "..%2f" nocase
        $c = "%2e%2e/" nocase
    condition:
        any of them
}

rule web_sql_injection : web attack
{
    strings:
        $a = /union(\s|%20|\+)+select/ nocase
        $b = "' or '1'='1" nocase
        $c = "information_schema" nocase
    condition:
        any of them
}

rule web_shell_access : web attack
{
    strings:
        $a = /\/(cmd|shell|c99|r57)\.(php|asp|jsp)\b/ nocase
        $b = "cmd.exe" nocase fullword
    condition:
        any of them
}

rule web_server_errors : web
{
    strings:
        $a = /" status: 5[0-9][0-9] /
        $b = /HTTP\/1\.[01]" 5[0-9][0-9] /
    condition:
        #a + #b >= 5
}

rule web_scanner_user_agent : web recon
{
    strings:
        $a = "sqlmap" nocase fullword
        $b = "nikto" nocase fullword
        $c = "masscan" nocase fullword
        $d = "zgrab" nocase
    condition:
        any of them
}

// ---- payloads in logged command lines ------------------------------------

rule payload_reverse_shell : payload
{
    meta:
        severity = 10
    strings:
        $devtcp = { 2F 64 65 76 2F 74 63 70 2F } // "/dev/tcp/"
        $nc = /\bnc(at)? (-[a-z]+ )*-e \/bin\/(ba)?sh/
        $bashi = "bash -i" fullword
    condition:
        $devtcp or $nc or $bashi
}

rule payload_download_exec : payload
{
    strings:
        $a = /(curl|wget) [^|;]{1,200}\| ?(ba)?sh/
        $b = "chmod +x /tmp/"
    condition:
        any of them
}

rule payload_base64_powershell : payload windows
{
    strings:
        $a = "powershell" nocase
        $b = /-e(nc|ncodedcommand)? [A-Za-z0-9+\/]{40,}/ nocase
    condition:
        $a and $b
}

rule payload_elf_header : payload
{
    strings:
        $elf = { 7F 45 4C 46 02 01 01 }
        $mz = { 4D 5A 90 00 03 00 00 00 }
    condition:
        any of them
}

rule payload_log4shell : payload
{
    meta:
        cve = "CVE-2021-44228"
    strings:
        $a = "${jndi:" nocase
        $b = /\$\{(lower|upper|env|sys):[^}]{0,20}\}/ nocase
    condition:
        any of them
}

// ---- kernel and hardware -------------------------------------------------

rule kernel_oom : kernel
{
    strings:
        $a = "Out of memory" nocase
        $b = "oom-killer" nocase
        $c = "Killed process" fullword
    condition:
        any of them
}

rule kernel_segfault : kernel
{
    strings:
        $a = /segfault at [0-9a-f]+ ip [0-9a-f]+/
        $b = "general protection fault" nocase
    condition:
        any of them
}

rule kernel_panic : kernel
{
    meta:
        severity = 10
    strings:
        $a = "Kernel panic" nocase
        $b = "BUG: unable to handle"
        $c = "Call Trace:"
    condition:
        $a or ($b and $c)
}

rule hw_machine_check : hardware
{
    strings:
        $a = "machine check" nocase
        $b = "MCE" fullword
        $c = "ECC error" nocase
    condition:
        any of them
}

rule hw_cache_parity : hardware
{
    strings:
        $a = "parity error" nocase
    condition:
        #a >= 100
}

rule hw_bgl_fatal : hardware
{
    strings:
        $a = " RAS KERNEL FATAL "
        $b = " RAS APP FATAL "
    condition:
        any of them
}

rule hw_node_unavailable : hardware
{
    strings:
        $a = "is in the unavailable state"
        $b = "state_change.unavailable"
    condition:
        #a >= 10 and $b
}

rule hw_disk_errors : hardware storage
{
    strings:
        $a = "I/O error" nocase
        $b = /\b(sd[a-z]|hd[a-z]|nvme[0-9]n[0-9]).{0,40}(error|fail)/
        $c = "SMART" fullword
    condition:
        any of them
}

rule hw_thunderbolt_or_usb_churn : hardware
{
    strings:
        $a = "IOThunderboltSwitch"
        $b = "USB disconnect" nocase
    condition:
        #a + #b > 200
}

// ---- distributed systems -------------------------------------------------

rule dist_java_exception : java
{
    strings:
        $a = /[a-z]+(\.[a-z0-9]+)+\.[A-Z][A-Za-z]*Exception/
        $b = "Exception in thread" fullword
    condition:
        any of them
}

rule dist_java_stack_trace : java
{
    strings:
        $at = /\tat [a-zA-Z_$][a-zA-Z0-9_$.]*\(/
        $caused = "Caused by: "
    condition:
        #at >= 5 or $caused
}

rule dist_no_route_to_host : network
{
    strings:
        $a = "NoRouteToHostException"
        $b = "Connection refused" nocase
    condition:
        #a + #b >= 3
}

rule dist_hdfs_block_problem : storage
{
    strings:
        $a = "Exception in receiveBlock" nocase
        $b = "Got exception while serving"
        $c = /blk_-?[0-9]+ is (corrupt|missing)/
    condition:
        any of them
}

rule dist_hdfs_heavy_replication : storage
{
    strings:
        $a = "NameSystem.addStoredBlock: blockMap updated"
        $b = "PacketResponder"
    condition:
        #a >= 100 and #b >= 100
}

rule dist_yarn_container_killed : hadoop
{
    strings:
        $a = "Container killed" nocase
        $b = /exit(ed)? (code|status)[: ]+(137|143|-100)/
    condition:
        any of them
}

rule dist_hadoop_task_retry : hadoop
{
    strings:
        $a = "TaskAttempt" fullword
        $b = "FAILED" fullword
        $c = "Retrying connect to server"
    condition:
        ($a and $b) or #c >= 5
}

rule dist_spark_lost_executor : spark
{
    strings:
        $a = "Lost executor" nocase
        $b = "ExecutorLostFailure"
        $c = "Driver commanded a shutdown"
    condition:
        any of them
}

rule dist_zookeeper_election_churn : zookeeper
{
    strings:
        $a = "FastLeaderElection"
        $b = "Notification time out"
        $c = "Interrupted while waiting for message on queue"
    condition:
        #b >= 5 or #c >= 10 or (#a >= 50 and $b)
}

rule dist_zookeeper_session_expired : zookeeper
{
    strings:
        $a = "Expiring session" nocase
        $b = "caught end of stream exception" nocase
    condition:
        #a + #b >= 10
}

rule dist_openstack_http_errors : openstack
{
    strings:
        $a = /" status: (4[0-9][0-9]|5[0-9][0-9]) len: /
        $b = "Instance failed" nocase
        $c = "No valid host was found" nocase
    condition:
        #a >= 10 or $b or $c
}

rule dist_openstack_request_ids : openstack
{
    strings:
        $req = /\[req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} /
    condition:
        #req >= 1000
}

// ---- endpoints and proxies -----------------------------------------------

rule proxy_connection_errors : network
{
    strings:
        $a = "error : Could not connect through proxy" nocase
        $b = "close, 0 bytes sent, 0 bytes received"
    condition:
        $a or #b >= 50
}

rule proxy_tor_or_socks : network
{
    strings:
        $a = ":9050" fullword
        $b = ":9150" fullword
        $c = "SOCKS5" nocase
    condition:
        any of them
}

rule windows_servicing_failure : windows
{
    strings:
        $a = /Failed to [A-Za-z ]{3,60}\[HRESULT = 0x8[0-9a-fA-F]{7}/
        $b = "CBS_E_"
        $c = "E_FAIL" fullword
    condition:
        any of them
}

rule windows_cbs_session_churn : windows
{
    strings:
        $a = "Session: "
        $b = "initialized by client WindowsUpdateAgent"
    condition:
        #a >= 100 and $b
}

rule android_crash : android
{
    strings:
        $a = "FATAL EXCEPTION" nocase
        $b = "ANR in "
        $c = "AndroidRuntimeException"
    condition:
        any of them
}

rule android_wakelock_storm : android
{
    strings:
        $a = "acquire lock="
        $b = "release:lock="
    condition:
        #a >= 200 and #b >= 200
}

rule mac_sandbox_denial : macos
{
    strings:
        $a = /Sandbox: [A-Za-z0-9_.-]+\([0-9]+\) deny/
        $b = "sandboxd" fullword
    condition:
        any of them
}

rule health_step_counter_burst : app
{
    strings:
        $a = "onStandStepChanged"
    condition:
        #a >= 100 and @a[100] - @a[1] < 100000
}

// ---- indicators ----------------------------------------------------------

rule ioc_private_key_in_log : secret
{
    strings:
        $a = "-----BEGIN RSA PRIVATE KEY-----"
        $b = "-----BEGIN OPENSSH PRIVATE KEY-----"
        $c = /AKIA[0-9A-Z]{16}/
    condition:
        any of them
}

rule ioc_password_in_url : secret
{
    strings:
        $a = /[?&](password|passwd|pwd)=[^&\s]{4,}/ nocase
    condition:
        $a
}

rule ioc_suspicious_tld : recon
{
    strings:
        $a = /[a-z0-9-]+\.(xyz|top|tk|ru|cn) \[/
    condition:
        #a >= 3
}

rule ioc_crypto_miner : payload
{
    strings:
        $a = "stratum+tcp://" nocase
        $b = "xmrig" nocase fullword
        $c = "cryptonight" nocase
    condition:
        any of them
}

rule noisy_stream : volume
{
    meta:
        description = "a stream that is mostly warnings and errors"
    strings:
        $w = /\b(WARN|WARNING)\b/
        $e = /\b(ERROR|FATAL|SEVERE)\b/
    condition:
        #w + #e >= 500
}
