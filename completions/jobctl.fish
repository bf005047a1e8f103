function __jobctl_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __jobctl_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __jobctl_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __jobctl_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __jobctl_parse_tokens -S
    set -l unparsed_tokens (__jobctl_tokens -pc)
    switch $unparsed_tokens[1]
    case 'jobctl'
        __jobctl_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'enqueue'
            __jobctl_parse_subcommand 2 'payload-file=' 'queue=' 'priority=' 'delay=' 'at=' 'max-attempts=' 'timeout=' 'unique=' 'tag=+' 'after=+' 'key=' 'wait' 'wait-timeout=' 'version' 'h/help'
        case 'exec'
            __jobctl_parse_subcommand -r 1 'queue=' 'priority=' 'delay=' 'at=' 'max-attempts=' 'timeout=' 'unique=' 'tag=+' 'after=+' 'key=' 'wait' 'wait-timeout=' 'version' 'h/help'
        case 'status'
            __jobctl_parse_subcommand -r 1 'version' 'h/help'
        case 'wait'
            __jobctl_parse_subcommand 1 'timeout=' 'version' 'h/help'
        case 'list'
            __jobctl_parse_subcommand 0 'state=' 'queue=' 'handler=' 'tag=' 'limit=' 'all' 'version' 'h/help'
        case 'cancel'
            __jobctl_parse_subcommand -r 1 'version' 'h/help'
        case 'retry'
            __jobctl_parse_subcommand -r 1 'version' 'h/help'
        case 'pause'
            __jobctl_parse_subcommand 1 'version' 'h/help'
        case 'resume'
            __jobctl_parse_subcommand 1 'version' 'h/help'
        case 'stats'
            __jobctl_parse_subcommand 0 'watch' 'version' 'h/help'
        case 'top'
            __jobctl_parse_subcommand 0 'version' 'h/help'
        case 'dashboard'
            __jobctl_parse_subcommand 0 'version' 'h/help'
        case 'workers'
            __jobctl_parse_subcommand 0 'version' 'h/help'
        case 'schedules'
            __jobctl_parse_subcommand 0 'version' 'h/help'
        case 'schedule'
            __jobctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'pause'
                __jobctl_parse_subcommand 1 'version' 'h/help'
            case 'resume'
                __jobctl_parse_subcommand 1 'version' 'h/help'
            case 'run'
                __jobctl_parse_subcommand 1 'version' 'h/help'
            end
        case 'ping'
            __jobctl_parse_subcommand 0 'version' 'h/help'
        case 'help'
            __jobctl_parse_subcommand -r 1 'version'
        end
    end
end

function __jobctl_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __jobctl_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __jobctl_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __jobctl_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__jobctl_tokens -p)
    if test -z "$(__jobctl_tokens -t)"
        set -l index (count (__jobctl_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'jobctl' -f
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'enqueue' -d 'Enqueue a job; print its id.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'exec' -d 'Enqueue a command for the exec builtin, run in the current folder.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'status' -d 'Show jobs by id, or (without ids) the count of jobs per queue and state.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'wait' -d 'Wait until a job is finished; print its result (exit 1 if it failed, 124 on timeout).'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'list' -d 'List jobs: id, state, queue, handler, attempts, age.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'cancel' -d 'Cancel jobs (a running one\'s handler is stopped).'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'retry' -d 'Queue failed or cancelled jobs again.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'pause' -d 'Stop a queue from starting jobs (it still accepts them).'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'resume' -d 'Let a paused queue start jobs again.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'stats' -d 'Jobs per queue and state, workers, version, uptime.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'top' -d 'A live full-screen view: queues with counts and rates, running jobs with their age.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'dashboard' -d 'Print the web dashboard\'s URL with its token, or say the HTTP listener is off.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'workers' -d 'List the connected external workers: name, pid and uid (from SO_PEERCRED), jobs held, last heartbeat.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'schedules' -d 'List the configured schedules: name, schedule, zone, next run, last run, last job, paused.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'schedule' -d 'Pause, resume or run a schedule now.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'ping' -d 'Check that the daemon answers.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" payload-file' -l 'payload-file' -d 'Read the payload from FILE (\'-\': stdin).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" queue' -l 'queue' -d 'The queue (default: the handler\'s, else "default").' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" priority' -l 'priority' -d '-1000...1000; higher runs first.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" delay' -l 'delay' -d 'Run no earlier than this long from now (30s, 5m, ...).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" at' -l 'at' -d 'Run no earlier than TIME: RFC 3339 (sent as given), or a duration from now.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" max-attempts' -l 'max-attempts' -d '1...1000 (default: the handler\'s, else 5).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" timeout' -l 'timeout' -d 'Time limit of one attempt (default: the handler\'s, else 60s).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" unique' -l 'unique' -d 'A unique key: while a job with it is unfinished, enqueue gives that job.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue"' -l 'tag' -d 'A tag (repeatable).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue"' -l 'after' -d 'Run only once job ID has succeeded (repeatable); the job is blocked until then.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" key' -l 'key' -d 'A concurrency key: at most the handler\'s key_concurrency jobs with it run at once.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" wait' -l 'wait' -d 'Submit and wait for the outcome; print the result.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" wait-timeout' -l 'wait-timeout' -d 'With --wait: give up after this long (exit 124).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl enqueue" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" queue' -l 'queue' -d 'The queue (default: the handler\'s, else "default").' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" priority' -l 'priority' -d '-1000...1000; higher runs first.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" delay' -l 'delay' -d 'Run no earlier than this long from now (30s, 5m, ...).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" at' -l 'at' -d 'Run no earlier than TIME: RFC 3339 (sent as given), or a duration from now.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" max-attempts' -l 'max-attempts' -d '1...1000 (default: the handler\'s, else 5).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" timeout' -l 'timeout' -d 'Time limit of one attempt (default: the handler\'s, else 60s).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" unique' -l 'unique' -d 'A unique key: while a job with it is unfinished, enqueue gives that job.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec"' -l 'tag' -d 'A tag (repeatable).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec"' -l 'after' -d 'Run only once job ID has succeeded (repeatable); the job is blocked until then.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" key' -l 'key' -d 'A concurrency key: at most the handler\'s key_concurrency jobs with it run at once.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" wait' -l 'wait' -d 'Submit and wait for the outcome; print the result.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" wait-timeout' -l 'wait-timeout' -d 'With --wait: give up after this long (exit 124).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl exec" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl status" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl wait" timeout' -l 'timeout' -d 'Give up after this long (exit 124).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl wait" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl wait" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" state' -l 'state' -d 'Only jobs in this state.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" queue' -l 'queue' -d 'Only jobs of this queue.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" handler' -l 'handler' -d 'Only jobs of this handler.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" tag' -l 'tag' -d 'Only jobs with this tag.' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" limit' -l 'limit' -d 'At most this many jobs (1...1000, default 100).' -rfka ''
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" all' -l 'all' -d 'Page through every matching job.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl cancel" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl cancel" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl retry" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl retry" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl pause" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl pause" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl resume" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl resume" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl stats" watch' -l 'watch' -d 'Print the table again every second, each time under a line with the time (plain text, for a log or a pipe).'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl stats" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl stats" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl top" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl top" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl dashboard" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl dashboard" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl workers" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl workers" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedules" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedules" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl schedule" -eq 1' -fa 'pause' -d 'Stop a schedule from firing (persisted: it stays paused across restarts).'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl schedule" -eq 1' -fa 'resume' -d 'Let a paused schedule fire again (ticks missed meanwhile follow its catch_up).'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_positional "jobctl schedule" -eq 1' -fa 'run' -d 'Enqueue the schedule\'s job now, outside its ticks; prints the job id.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule pause" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule pause" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule resume" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule resume" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule run" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl schedule run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl ping" version' -l 'version' -d 'Show the version.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl ping" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'jobctl' -n '__jobctl_should_offer_completions_for_flags_or_options "jobctl help" version' -l 'version' -d 'Show the version.'
