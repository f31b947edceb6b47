using ApprovalBot.Client;
using ApprovalBot.Sandbox;
using ApprovalBot.Tests.Infrastructure;
using ApprovalBot.Tests.Telegram;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// The real host as a child process against a sandbox in the test process (which outlives the host, as Telegram does),
/// on a data directory of its own that a restart keeps, with two command routes that write to ledgers of their own:
/// <c>post</c> on a sink that dedupes by idempotency key, <c>dm</c> on one that does not. A test class derives its rig,
/// names the host's further settings and adds the helpers only it needs.
/// </summary>
internal abstract class SinkRig : IAsyncDisposable
{
    /// <summary>How long each wait of the rig waits at most.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _data = new();
    private readonly string _agent;

    protected SinkRig(string agent) => _agent = agent;

    public SandboxServer Sandbox { get; private set; } = null!;

    public SandboxControl Control => Sandbox.Control;

    public LedgerSink PostSink { get; } = new(dedupe: true);

    public LedgerSink DmSink { get; } = new(dedupe: false);

    public HostProcess Host { get; private set; } = null!;

    public string DataDirectory => _data.Path;

    public string Database => _data.Combine("approvals.db");

    public string Combine(params string[] names) => Path.Combine([_data.Path, .. names]);

    /// <summary>The host's settings after the sandbox's: the two sinks' routes and whatever the test needs.</summary>
    protected abstract IEnumerable<string> HostSettings();

    /// <summary>Starts the sandbox and the host; on a failure, stops what started.</summary>
    protected async Task StartSandboxAndHostAsync()
    {
        Sandbox = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false });
        try
        {
            await StartHostAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the host, or stops it and starts it again, on the same data directory.</summary>
    public async Task StartHostAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
        Host = await HostProcess.StartAsync(_data.Path, [.. TelegramHarness.SettingsFor(Sandbox), .. HostSettings()]);
    }

    public async Task<Receipt> SubmitAsync(string id, string text, string kind = "post")
    {
        await using var client = await Host.ConnectAsync();
        var response = await client.SubmitAsync(new DraftSubmission { Id = id, Kind = kind, Agent = _agent, Text = text });
        Assert.True(response.Ok, response.Error?.Message);
        return response.Receipt!;
    }

    public Task<DraftView> WaitForStateAsync(string id, string state) => WaitForAsync(id, v => v.State == state, state);

    /// <summary>
    /// Across processes there is no in-process signal; the pipe's get is polled against a deadline.
    /// <paramref name="expected"/>: what the draft should be, for the failure message.
    /// </summary>
    public async Task<DraftView> WaitForAsync(string id, Func<DraftView, bool> condition, string? expected = null)
    {
        var deadline = DateTime.UtcNow + Wait;
        await using var client = await Host.ConnectAsync();
        while (true)
        {
            var view = (await client.GetAsync(id)).Draft!;
            if (condition(view))
            {
                return view;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{id} is {view.State}{(expected is null ? "" : ", not " + expected)}, after {Wait.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
        if (Sandbox is not null)
        {
            await Sandbox.DisposeAsync();
        }
        PostSink.Dispose();
        DmSink.Dispose();
        _data.Dispose();
    }
}
