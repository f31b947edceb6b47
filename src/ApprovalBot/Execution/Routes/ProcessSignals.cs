using System.Globalization;
using System.Runtime.InteropServices;

namespace ApprovalBot.Execution.Routes;

/// <summary>
/// Signals and <c>/proc</c> reads for a command route's process session (Linux). Every call is best effort and never
/// throws: a process that is gone, or that this user may not signal (a <c>sudo -u</c> child), must not turn a kill into
/// an error that skips the wait for the program's exit.
/// </summary>
internal static class ProcessSignals
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/> to one process; false when it is gone or may not be signalled.</summary>
    public static bool Send(int pid, int signal) => pid > 0 && kill(pid, signal) == 0;

    /// <summary>
    /// The process's start time in clock ticks since boot (<c>/proc/PID/stat</c> field 22), which with the boot id tells
    /// the process apart from a later one given the same pid; null when it is gone.
    /// </summary>
    public static long? StartTime(int pid) => Stat(pid)?.StartTime;

    /// <summary>This boot's id: start times are counted from boot, so a record from another boot names nothing alive.</summary>
    public static string BootId() => Boot.Value;

    // Read once: it cannot change while this process lives, and every command run records it.
    private static readonly Lazy<string> Boot = new(ReadBootId);

    private static string ReadBootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>
    /// Whether the session's leader itself still runs: what <see cref="SessionMembers"/> would say of it, from its own
    /// <c>/proc/PID/stat</c> alone rather than a read of every process. Exact: a session leader cannot leave its session
    /// (setsid and setpgid refuse it), and another process given its pid has another start time.
    /// </summary>
    public static bool LeaderRuns(int leader, long leaderStart) =>
        Stat(leader) is { Zombie: false } stat && stat.StartTime == leaderStart && (stat.Session == leader || stat.Group == leader);

    /// <summary>
    /// The live processes of the session a route's program led (started by <c>setsid</c>, its session and group id are its
    /// pid): those with that session or group id, started no earlier than the leader. None when the pid now belongs to
    /// another process: Linux hands out a pid again only when no session or group of that id is left, so the old session
    /// is gone entirely.
    /// </summary>
    public static List<int> SessionMembers(int leader, long leaderStart)
    {
        var members = new List<int>();
        if (Stat(leader) is { } now && now.StartTime != leaderStart)
        {
            return members;
        }
        string[] entries;
        try
        {
            entries = Directory.GetDirectories("/proc");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return members;
        }
        foreach (var entry in entries)
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Stat(pid) is { Zombie: false } stat && (stat.Session == leader || stat.Group == leader) && stat.StartTime >= leaderStart)
            {
                members.Add(pid);
            }
        }
        return members;
    }

    /// <summary>How often a kill of a session looks again whether its processes are gone.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// SIGKILL to every process of the session (<see cref="SessionMembers"/>), round after round, until none is left or
    /// <paramref name="wait"/> has passed (one round at least). Returns the processes still there at the end, and those of
    /// them that refused the signal (not this user's to signal): a process that took SIGKILL may take a moment to go.
    /// </summary>
    public static async Task<SessionLeft> KillSessionAsync(int leader, long leaderStart, TimeSpan wait)
    {
        // Real time: these are processes, not this service's timers, and not its children, so there is no exit to await.
        var deadline = TimeProvider.System.GetUtcNow() + wait;
        var refused = new HashSet<int>();
        List<int> members;
        while ((members = SessionMembers(leader, leaderStart)).Count > 0)
        {
            foreach (var member in members)
            {
                if (!Send(member, SigKill))
                {
                    refused.Add(member);
                }
            }
            await Task.Delay(Poll, TimeProvider.System).ConfigureAwait(false);
            if (TimeProvider.System.GetUtcNow() >= deadline)
            {
                members = SessionMembers(leader, leaderStart);
                break;
            }
        }
        return new SessionLeft(members, [.. members.Where(refused.Contains)]);
    }

    /// <summary>What <see cref="KillSessionAsync"/> left: the processes still there, and those of them that refused SIGKILL.</summary>
    public sealed record SessionLeft(IReadOnlyList<int> Alive, IReadOnlyList<int> Refused);

    private sealed record ProcStat(bool Zombie, int Group, int Session, long StartTime);

    private static ProcStat? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // The command name (field 2) is in parentheses and may hold spaces or ')': the fields that follow start after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (state), so field N is fields[N - 3].
        if (fields.Length < 20
            || !int.TryParse(fields[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var group)
            || !int.TryParse(fields[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var session)
            || !long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }
        return new ProcStat(fields[0] is "Z" or "X", group, session, start);
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the host for one blittable call.
    private static extern int kill(int pid, int sig);
#pragma warning restore SYSLIB1054
}
