using Microsoft.Extensions.Logging;

namespace ApprovalBot.Execution.Routes;

/// <summary>The command route's log lines about the processes it starts and kills; every one names the draft.</summary>
internal static partial class CommandLog
{
    [LoggerMessage(EventId = 4031, Level = LogLevel.Warning, EventName = "CommandLeftoverEnded",
        Message = "Draft {DraftId}: no process is left of the command route's run (session {Pid}) that the previous service started and could not stop; any still running were killed")]
    public static partial void CommandLeftoverEnded(this ILogger logger, string draftId, int pid);

    [LoggerMessage(EventId = 4032, Level = LogLevel.Error, EventName = "CommandLeftoverAlive",
        Message = "Draft {DraftId} stays executing: processes {Pids} of the command route's run (session {Pid}) that the previous service started still run after SIGKILL; the next cycle tries again")]
    public static partial void CommandLeftoverAlive(this ILogger logger, string draftId, int pid, string pids);

    [LoggerMessage(EventId = 4033, Level = LogLevel.Warning, EventName = "CommandSessionNotForgotten",
        Message = "Draft {DraftId}: the record of its command run's process could not be removed ({Reason})")]
    public static partial void CommandSessionNotForgotten(this ILogger logger, string draftId, string reason);

    [LoggerMessage(EventId = 4034, Level = LogLevel.Warning, EventName = "CommandSessionLeft",
        Message = "Draft {DraftId}: processes {Pids} of its command run (session {Pid}) still run after SIGKILL (not this user's to signal?)")]
    public static partial void CommandSessionLeft(this ILogger logger, string draftId, int pid, string pids);
}
