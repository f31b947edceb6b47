using System.Globalization;
using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;
using Microsoft.Data.Sqlite;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The crash loop: one sandbox Bot API in the test process (it outlives every kill), one data directory, and the
/// real host as a child process started on it again and again. Each cycle drives agents and the approver at once,
/// may queue Bot API faults, and ends with SIGKILL at a seeded random moment. <see cref="FinishAsync"/> starts the
/// host a last time, lets it settle, and checks the ledger invariants of issue 5 against what the outside saw.
/// </summary>
internal sealed class CrashLoopRig : IAsyncDisposable
{
    public const string IdempotentKind = "post";
    public const string PlainKind = "dm";
    private const int Agents = 4;
    private static readonly string[] Kinds = [IdempotentKind, PlainKind];

    private readonly TempDirectory _data = new();
    private readonly Random _random;
    private readonly int _seed;

    private CrashLoopRig(SandboxServer sandbox, int seed)
    {
        Sandbox = sandbox;
        _seed = seed;
        _random = new Random(seed);
    }

    public SandboxServer Sandbox { get; }

    public SandboxControl Control => Sandbox.Control;

    public LedgerSink PostSink { get; } = new(dedupe: true);

    public LedgerSink DmSink { get; } = new(dedupe: false);

    public Traffic Traffic { get; } = new();

    public Figures Figures { get; } = new();

    public string DataDirectory => _data.Path;

    public static async Task<CrashLoopRig> StartAsync(int seed) =>
        new(await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false }), seed);

    private IEnumerable<string> Settings(bool final) =>
    [
        .. TelegramHarness.SettingsFor(Sandbox),
        // A hang must cost seconds, not the default 15, and a failed card comes back quickly.
        "ApprovalBot:Telegram:HttpTimeoutSeconds=2",
        "ApprovalBot:Telegram:CardRetryMaxDelaySeconds=2",
        "ApprovalBot:Execution:IntervalSeconds=1",
        "ApprovalBot:Execution:RetryBaseSeconds=1",
        "ApprovalBot:Execution:RetryMaxSeconds=2",
        .. PostSink.Settings(IdempotentKind, idempotent: true, maxAttempts: 50),
        .. DmSink.Settings(PlainKind, idempotent: false, maxAttempts: 3),
        // The last start judges what is left: anything not final by then must already be reported as stale.
        .. final
            ? (string[])[
                $"ApprovalBot:Kinds:{IdempotentKind}:StaleAfter=00:00:01", $"ApprovalBot:Kinds:{IdempotentKind}:StuckAfter=00:00:01",
                $"ApprovalBot:Kinds:{PlainKind}:StaleAfter=00:00:01", $"ApprovalBot:Kinds:{PlainKind}:StuckAfter=00:00:01"]
            : [],
    ];

    /// <summary>One cycle: start, traffic (and perhaps faults), SIGKILL at a random moment.</summary>
    public async Task CycleAsync()
    {
        var host = await HostProcess.StartAsync(_data.Path, Settings(final: false));
        // Mostly early kills (start-up, first submits and cards), some later ones (taps, executions in full swing).
        var killAfter = _random.Next(10) switch
        {
            < 5 => _random.Next(0, 400),
            < 9 => _random.Next(400, 1500),
            _ => _random.Next(1500, 3500),
        };
        InjectFaults();
        using var stop = new CancellationTokenSource();
        var cycleSeed = _random.Next();
        var tasks = new List<Task> { Traffic.ApproverAsync(Control, cycleSeed, stop.Token) };
        for (var a = 0; a < Agents; a++)
        {
            tasks.Add(Traffic.AgentAsync(host, a, Kinds, cycleSeed + a + 1, stop.Token));
        }
        await Task.Delay(killAfter);
        var confirmed = Control.ConfirmedOffset;
        var unconfirmedTaps = Traffic.Presses.Where(p => confirmed <= p.UpdateId).Select(p => p.QueryId).ToList();
        await host.KillAsync();
        Figures.Kills++;
        Figures.LargestWalAtKill = Math.Max(Figures.LargestWalAtKill, WalBytes());
        Figures.TapsInFlightAtKill.UnionWith(unconfirmedTaps);
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        await host.DisposeAsync();
    }

    /// <summary>The WAL a kill leaves behind; the next start folds it into the database and truncates it.</summary>
    private long WalBytes()
    {
        var wal = new FileInfo(Path.Combine(_data.Path, "approvals.db-wal"));
        return wal.Exists ? wal.Length : 0;
    }

    /// <summary>Bot API faults for the next calls: 429 storms, 5xx bursts, hangs past the HTTP timeout, lost answers.</summary>
    private void InjectFaults()
    {
        if (_random.Next(3) != 0)
        {
            return;
        }
        var times = _random.Next(1, 4);
        switch (_random.Next(8))
        {
            case 0:
                Inject("sendMessage", SandboxFault.TooManyRequests(1), times, f => f.TooManyRequests += times);
                break;
            case 1:
                Inject("editMessageText", SandboxFault.Error(500, "Internal Server Error"), times, f => f.ServerErrors += times);
                break;
            case 2:
                // A 5xx to a send leaves unknown whether it was posted (the client does not resend it); on real Telegram a
                // proxy's 502 mostly comes after the message was posted, so the sandbox posts it.
                Inject("sendMessage", SandboxFault.ResponseLost(ResponseLossMode.BadGateway), times, f => f.ServerErrors += times);
                break;
            case 3:
                // Past the 2 s HTTP timeout; performed all the same, as Telegram does.
                Inject("sendMessage", SandboxFault.Hang(_random.Next(2) == 0 ? null : TimeSpan.FromSeconds(3)), 1, f => f.Hangs++);
                break;
            case 4:
                Inject("sendMessage", SandboxFault.ResponseLost(_random.Next(2) == 0 ? ResponseLossMode.AbortConnection : ResponseLossMode.BadGateway), 1, f => f.ResponsesLost++);
                break;
            case 5:
                Inject("answerCallbackQuery", SandboxFault.ResponseLost(), times, f => f.ResponsesLost += times);
                break;
            case 6:
                Inject("editMessageText", SandboxFault.ResponseLost(), times, f => f.ResponsesLost += times);
                break;
            default:
                Inject("answerCallbackQuery", SandboxFault.TooManyRequests(1), times, f => f.TooManyRequests += times);
                break;
        }
    }

    private void Inject(string method, SandboxFault fault, int times, Action<Figures> count)
    {
        Control.InjectFault(method, fault, times);
        count(Figures);
    }

    /// <summary>The last start: no faults, no kill; agents resend what was never answered, the approver decides every card.</summary>
    public async Task<HostProcess> FinishAsync(TimeSpan settleTimeout)
    {
        Control.ClearFaults();
        Figures.CutOffExecutions = PostSink.CutOff() + DmSink.CutOff();
        var host = await HostProcess.StartAsync(_data.Path, Settings(final: true));
        using var stop = new CancellationTokenSource();
        var approver = Traffic.ApproverAsync(Control, _seed, stop.Token);
        await Task.WhenAll(Enumerable.Range(0, Agents).Select(a => Traffic.AgentAsync(host, a, Kinds, 0, CancellationToken.None, resendOnly: true)));
        Assert.Equal(0, Traffic.UnansweredCount);
        Figures.Settled = await UntilSettledAsync(settleTimeout);
        await stop.CancelAsync();
        await approver;
        return host;
    }

    /// <summary>
    /// Until nothing moves any more: no draft awaiting a card, a tap or an execution, no update unconfirmed. Gives up
    /// only after <paramref name="timeout"/> without progress, so a long loop's backlog may take as long as it needs.
    /// </summary>
    private async Task<bool> UntilSettledAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var least = long.MaxValue;
        while (DateTime.UtcNow < deadline)
        {
            var moving = Scalar<long>("SELECT COUNT(*) FROM drafts WHERE state IN ('carded', 'approved', 'executing') " +
                "OR (state = 'pending' AND NOT (card_error IS NOT NULL AND card_next_at IS NULL))");
            var unconfirmed = Traffic.Presses.Count(p => Control.ConfirmedOffset <= p.UpdateId);
            var left = moving + Control.PendingUpdateCount + unconfirmed;
            Figures.SettleLeft = $"{moving} drafts still moving ({MovingByState()}), {Control.PendingUpdateCount} updates pending in the sandbox, {unconfirmed} taps unconfirmed";
            if (left == 0)
            {
                return true;
            }
            if (left < least)
            {
                least = left;
                deadline = DateTime.UtcNow + timeout;
            }
            await Task.Delay(100);
        }
        return false;
    }

    private string MovingByState()
    {
        using var connection = OpenReadOnly();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT state, COUNT(*) FROM drafts WHERE state IN ('pending', 'carded', 'approved', 'executing') GROUP BY state";
        using var reader = cmd.ExecuteReader();
        var parts = new List<string>();
        while (reader.Read())
        {
            parts.Add($"{reader.GetString(0)} {reader.GetInt64(1)}");
        }
        return string.Join(", ", parts);
    }

    public SqliteConnection OpenReadOnly()
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(_data.Path, "approvals.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }

    public T Scalar<T>(string sql)
    {
        using var connection = OpenReadOnly();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }

    public IReadOnlyList<StoredDraft> Drafts()
    {
        using var connection = OpenReadOnly();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT id, seq, kind, text, sha256, state, decision, exec_key FROM drafts";
        using var reader = cmd.ExecuteReader();
        var drafts = new List<StoredDraft>();
        while (reader.Read())
        {
            drafts.Add(new StoredDraft(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return drafts;
    }

    public IReadOnlyList<StoredEvent> Events(string? type = null)
    {
        using var connection = OpenReadOnly();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT id, draft_id, type, actor, details FROM events" + (type is null ? "" : " WHERE type = $type") + " ORDER BY id";
        if (type is not null)
        {
            cmd.Parameters.AddWithValue("$type", type);
        }
        using var reader = cmd.ExecuteReader();
        var events = new List<StoredEvent>();
        while (reader.Read())
        {
            var details = reader.IsDBNull(4) ? default : JsonDocument.Parse(reader.GetString(4)).RootElement.Clone();
            events.Add(new StoredEvent(reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.GetString(3), details));
        }
        return events;
    }

    public async ValueTask DisposeAsync()
    {
        await Sandbox.DisposeAsync();
        PostSink.Dispose();
        DmSink.Dispose();
        // APPROVALBOT_CRASH_KEEP=1 keeps the data directory (database, host logs) for a post-mortem.
        if (Environment.GetEnvironmentVariable("APPROVALBOT_CRASH_KEEP") != "1")
        {
            _data.Dispose();
        }
    }

    internal sealed record StoredDraft(string Id, long Seq, string Kind, string? Text, string Sha256, string State, string? Decision, string? ExecKey);

    internal sealed record StoredEvent(long Id, string? DraftId, string Type, string Actor, JsonElement Details)
    {
        public string? Get(params string[] path)
        {
            var e = Details;
            foreach (var p in path)
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e))
                {
                    return null;
                }
            }
            return e.ValueKind switch { JsonValueKind.String => e.GetString(), JsonValueKind.Null => null, _ => e.GetRawText() };
        }
    }
}

/// <summary>The numbers a run prints and the doc records.</summary>
internal sealed class Figures
{
    public int Kills;
    /// <summary>Taps not yet confirmed by the bot when a kill landed (each counted once, however many kills it outlived).</summary>
    public HashSet<string> TapsInFlightAtKill { get; } = new(StringComparer.Ordinal);
    public int CutOffExecutions;
    public int TooManyRequests;
    public int ServerErrors;
    public int Hangs;
    public int ResponsesLost;
    public bool Settled;
    public long LargestWalAtKill;

    /// <summary>What was still moving when the settle last looked.</summary>
    public string SettleLeft = "";

    public int FaultsInjected => TooManyRequests + ServerErrors + Hangs + ResponsesLost;
}
