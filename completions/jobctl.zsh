#compdef jobctl

__jobctl_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__jobctl_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __jobctl_complete "${completions[@]:0:-1}"
    fi
}

__jobctl_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_jobctl() {
    emulate -RL zsh -G
    setopt extendedglob nullglob numericglobsort
    unsetopt aliases banghist

    local -xr SAP_SHELL=zsh
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(builtin emulate zsh -c 'printf %s "${ZSH_VERSION}"')"
    local -r SAP_SHELL_VERSION

    local context state state_descr line
    local -A opt_args

    local -r command_name="${words[1]}"
    local -ar command_line=("${words[@]}")
    local -ir current_word_index="$((CURRENT - 1))"

    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'enqueue:Enqueue a job; print its id.'
            'exec:Enqueue a command for the exec builtin, run in the current folder.'
            'status:Show jobs by id, or (without ids) the count of jobs per queue and state.'
            'wait:Wait until a job is finished; print its result (exit 1 if it failed, 124 on timeout).'
            'list:List jobs: id, state, queue, handler, attempts, age.'
            'cancel:Cancel jobs (a running one'\''s handler is stopped).'
            'retry:Queue failed or cancelled jobs again.'
            'pause:Stop a queue from starting jobs (it still accepts them).'
            'resume:Let a paused queue start jobs again.'
            'stats:Jobs per queue and state, workers, version, uptime.'
            'top:A live full-screen view: queues with counts and rates, running jobs with their age.'
            'dashboard:Print the web dashboard'\''s URL with its token, or say the HTTP listener is off.'
            'workers:List the connected external workers: name, pid and uid (from SO_PEERCRED), jobs held, last heartbeat.'
            'schedules:List the configured schedules: name, schedule, zone, next run, last run, last job, paused.'
            'schedule:Pause, resume or run a schedule now.'
            'ping:Check that the daemon answers.'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        enqueue|exec|status|wait|list|cancel|retry|pause|resume|stats|top|dashboard|workers|schedules|schedule|ping|help)
            "_jobctl_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_jobctl_enqueue() {
    local -i ret=1
    local -ar arg_specs=(
        ':handler:'
        ':payload:'
        '--payload-file[Read the payload from FILE ('\''-'\''\: stdin).]:payload-file:'
        '--queue[The queue (default\: the handler'\''s, else "default").]:queue:'
        '--priority[-1000...1000; higher runs first.]:priority:'
        '--delay[Run no earlier than this long from now (30s, 5m, ...).]:delay:'
        '--at[Run no earlier than TIME\: RFC 3339 (sent as given), or a duration from now.]:at:'
        '--max-attempts[1...1000 (default\: the handler'\''s, else 5).]:max-attempts:'
        '--timeout[Time limit of one attempt (default\: the handler'\''s, else 60s).]:timeout:'
        '--unique[A unique key\: while a job with it is unfinished, enqueue gives that job.]:unique:'
        '*--tag[A tag (repeatable).]:tag:'
        '*--after[Run only once job ID has succeeded (repeatable); the job is blocked until then.]:after:'
        '--key[A concurrency key\: at most the handler'\''s key_concurrency jobs with it run at once.]:key:'
        '--wait[Submit and wait for the outcome; print the result.]'
        '--wait-timeout[With --wait\: give up after this long (exit 124).]:wait-timeout:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_exec() {
    local -i ret=1
    local -ar arg_specs=(
        '--queue[The queue (default\: the handler'\''s, else "default").]:queue:'
        '--priority[-1000...1000; higher runs first.]:priority:'
        '--delay[Run no earlier than this long from now (30s, 5m, ...).]:delay:'
        '--at[Run no earlier than TIME\: RFC 3339 (sent as given), or a duration from now.]:at:'
        '--max-attempts[1...1000 (default\: the handler'\''s, else 5).]:max-attempts:'
        '--timeout[Time limit of one attempt (default\: the handler'\''s, else 60s).]:timeout:'
        '--unique[A unique key\: while a job with it is unfinished, enqueue gives that job.]:unique:'
        '*--tag[A tag (repeatable).]:tag:'
        '*--after[Run only once job ID has succeeded (repeatable); the job is blocked until then.]:after:'
        '--key[A concurrency key\: at most the handler'\''s key_concurrency jobs with it run at once.]:key:'
        '--wait[Submit and wait for the outcome; print the result.]'
        '--wait-timeout[With --wait\: give up after this long (exit 124).]:wait-timeout:'
        '*:command:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_status() {
    local -i ret=1
    local -ar arg_specs=(
        '*:ids:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_wait() {
    local -i ret=1
    local -ar arg_specs=(
        ':id:'
        '--timeout[Give up after this long (exit 124).]:timeout:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_list() {
    local -i ret=1
    local -ar arg_specs=(
        '--state[Only jobs in this state.]:state:'
        '--queue[Only jobs of this queue.]:queue:'
        '--handler[Only jobs of this handler.]:handler:'
        '--tag[Only jobs with this tag.]:tag:'
        '--limit[At most this many jobs (1...1000, default 100).]:limit:'
        '--all[Page through every matching job.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_cancel() {
    local -i ret=1
    local -ar arg_specs=(
        '*:ids:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_retry() {
    local -i ret=1
    local -ar arg_specs=(
        '*:ids:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_pause() {
    local -i ret=1
    local -ar arg_specs=(
        ':queue:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_resume() {
    local -i ret=1
    local -ar arg_specs=(
        ':queue:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_stats() {
    local -i ret=1
    local -ar arg_specs=(
        '--watch[Print the table again every second, each time under a line with the time (plain text, for a log or a pipe).]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_top() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_dashboard() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_workers() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_schedules() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_schedule() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'pause:Stop a schedule from firing (persisted: it stays paused across restarts).'
            'resume:Let a paused schedule fire again (ticks missed meanwhile follow its catch_up).'
            'run:Enqueue the schedule'\''s job now, outside its ticks; prints the job id.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        pause|resume|run)
            "_jobctl_schedule_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_jobctl_schedule_pause() {
    local -i ret=1
    local -ar arg_specs=(
        ':name:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_schedule_resume() {
    local -i ret=1
    local -ar arg_specs=(
        ':name:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_schedule_run() {
    local -i ret=1
    local -ar arg_specs=(
        ':name:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_ping() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_jobctl_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
        '--version[Show the version.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _jobctl ]]; then
    _jobctl "${@}"
else
    compdef _jobctl jobctl
fi
