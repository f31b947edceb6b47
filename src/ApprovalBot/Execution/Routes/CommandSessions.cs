using System.Globalization;
using ApprovalBot.Drafts;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Execution.Routes;

/// <summary>
/// The durable record of a command route's running program, one settings row per draft (<see cref="KeyPrefix"/> + id):
/// its pid, start time and boot id. A service killed with SIGKILL cannot stop the program it started, so the next start
/// kills what is left of the program's session before it judges the draft (<see cref="EndLeftoverAsync"/>): no run of
/// the dead service can take effect after the draft became unknown or was queued again.
/// </summary>
internal sealed class CommandSessions(DraftStore store, ILogger<CommandSessions> logger)
{
    public const string KeyPrefix = "command.run.";

    /// <summary>How long a start waits for a killed leftover to be gone before it leaves the draft for the next cycle.</summary>
    private static readonly TimeSpan LeftoverWait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    // Drafts whose leftovers outlived the wait once, from then on only looked at again.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _stubborn = new(StringComparer.Ordinal);

    private static string Key(string draftId) => KeyPrefix + draftId;

    /// <summary>Records the program's session; committed (fsynced) before the program is given the draft.</summary>
    public Task RecordAsync(string draftId, int pid, long startTime) =>
        store.SetSettingAsync(Key(draftId), string.Join(' ', pid.ToString(CultureInfo.InvariantCulture), startTime.ToString(CultureInfo.InvariantCulture), ProcessSignals.BootId()));

    /// <summary>Forgets the record once the program has exited and its session was killed.</summary>
    public async Task ForgetAsync(string draftId)
    {
        try
        {
            await store.WriteAsync(ctx => ctx.Execute("DELETE FROM settings WHERE key = $key", ("$key", Key(draftId)))).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Harmless when left: the next start finds the session gone, or a later run of the draft replaces the row.
            logger.CommandSessionNotForgotten(draftId, ex.Message);
        }
    }

    /// <summary>
    /// Ends whatever is left of the session a dead service's run of <paramref name="draftId"/> recorded, waits for it to be
    /// gone, then drops the record: SIGTERM to the program first (a <c>sudo</c> in front forwards it to its command), then
    /// SIGKILL to every process of the session. False when something of it still runs after the wait (it may not be
    /// ours to signal): the draft must then stay as it is, and the next cycles look again, without waiting again.
    /// </summary>
    public async Task<bool> EndLeftoverAsync(string draftId)
    {
        if (store.GetSetting(Key(draftId)) is not { } value)
        {
            return true;
        }
        var parts = value.Split(' ');
        if (parts.Length == 3 && string.Equals(parts[2], ProcessSignals.BootId(), StringComparison.Ordinal)
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
        {
            // A draft found stubborn before is only looked at again: each wait would hold up the whole cycle.
            var stubborn = _stubborn.ContainsKey(draftId);
            if (!stubborn && ProcessSignals.LeaderRuns(pid, start))
            {
                ProcessSignals.Send(pid, ProcessSignals.SigTerm);
                var until = TimeProvider.System.GetUtcNow() + CommandRunner.TermGrace;
                while (ProcessSignals.LeaderRuns(pid, start) && TimeProvider.System.GetUtcNow() < until)
                {
                    await Task.Delay(Poll, TimeProvider.System).ConfigureAwait(false);
                }
            }
            var left = (await ProcessSignals.KillSessionAsync(pid, start, stubborn ? TimeSpan.Zero : LeftoverWait).ConfigureAwait(false)).Alive;
            if (left.Count > 0)
            {
                _stubborn[draftId] = true;
                logger.CommandLeftoverAlive(draftId, pid, string.Join(", ", left));
                return false;
            }
            _stubborn.TryRemove(draftId, out _);
            logger.CommandLeftoverEnded(draftId, pid);
        }
        await ForgetAsync(draftId).ConfigureAwait(false);
        return true;
    }
}
