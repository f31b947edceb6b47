using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ApprovalBot.Drafts;
using ApprovalBot.Execution;
using ApprovalBot.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalBot.Tests.Execution.Routes;

/// <summary>The webhook route against a real loopback HTTP listener that answers with a scripted status.</summary>
public sealed class WebhookRunnerTests : IAsyncLifetime
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<(string? Key, JsonElement Body)> _received = new();
    private Task _serving = Task.CompletedTask;
    private int _status = 200;
    private string _url = "";

    public Task InitializeAsync()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(_url);
        _listener.Start();
        _serving = ServeAsync();
        return Task.CompletedTask;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            using (var doc = JsonDocument.Parse(await reader.ReadToEndAsync()))
            {
                _received.Enqueue((context.Request.Headers["Idempotency-Key"], doc.RootElement.Clone()));
            }
            context.Response.StatusCode = _status;
            var body = Encoding.UTF8.GetBytes(_status < 300 ? "https://sink.test/posted\nmore" : "sink says " + _status);
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    public async Task DisposeAsync()
    {
        if (!_listener.IsListening) return;
        _listener.Stop();
        _listener.Close();
        await _serving;
    }

    private Task<TestHost> StartAsync(int maxAttempts = 3) => TestHost.StartAsync(
        settings:
        [
            "ApprovalBot:Kinds:post:Executor:Type=webhook",
            $"ApprovalBot:Kinds:post:Executor:Url={_url}",
            $"ApprovalBot:Kinds:post:Executor:MaxAttempts={maxAttempts}",
            "ApprovalBot:Execution:RetryBaseSeconds=60",
        ],
        compose: b => b.AddApprovalJobs());

    [Fact]
    public async Task Post_Sink2xx_ExecutedWithIdempotencyKeyHeaderAndBody()
    {
        await using var host = await StartAsync();
        await Drafts.ApproveAsync(host.Store, "post:w1", "a post 🙂", kind: "post");

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        var (key, body) = Assert.Single(_received);
        Assert.Equal(IdempotencyKey.For("post:w1", Sha.Hex("a post 🙂")), key);
        Assert.Equal(key, body.GetProperty("idempotency_key").GetString());
        Assert.Equal("a post 🙂", body.GetProperty("text").GetString());
        var draft = host.Store.Get("post:w1")!;
        Assert.Equal(DraftState.Executed, draft.State);
        Assert.Equal("https://sink.test/posted", draft.ExecResult);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(429)]
    [InlineData(408)]
    public async Task Post_SinkRetryableStatus_ApprovedAgainWithBackoff(int status)
    {
        _status = status;
        await using var host = await StartAsync();
        await Drafts.ApproveAsync(host.Store, "post:w5", "retry me", kind: "post");

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        var draft = host.Store.Get("post:w5")!;
        Assert.Equal(DraftState.Approved, draft.State);
        Assert.NotNull(draft.ExecNextAt);
        Assert.StartsWith($"HTTP {status}", draft.ExecError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(422)]
    public async Task Post_SinkOther4xx_FailedAtOnce(int status)
    {
        _status = status;
        await using var host = await StartAsync();
        await Drafts.ApproveAsync(host.Store, "post:w4", "rejected by sink", kind: "post");

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        var draft = host.Store.Get("post:w4")!;
        Assert.Equal(DraftState.Failed, draft.State);
        Assert.Contains($"sink says {status}", draft.ExecError, StringComparison.Ordinal);
        Assert.Single(_received);
    }

    [Fact]
    public async Task Post_NothingListening_RetryableNetworkError()
    {
        await DisposeAsync();
        await using var host = await StartAsync(maxAttempts: 1);
        await Drafts.ApproveAsync(host.Store, "post:down", "nobody home", kind: "post");

        await host.Services.GetRequiredService<ExecutorCycle>().RunOnceAsync();

        var draft = host.Store.Get("post:down")!;
        Assert.Equal(DraftState.Failed, draft.State);
        Assert.StartsWith("network error", draft.ExecError, StringComparison.Ordinal);
    }
}
