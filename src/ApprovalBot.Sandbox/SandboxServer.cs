using ApprovalBot.Sandbox.Http;
using ApprovalBot.Sandbox.Spec;
using ApprovalBot.Sandbox.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox;

/// <summary>
/// A fake Telegram Bot API server on Kestrel: the host runs against it when no bot token is configured,
/// and tests drive it through <see cref="Control"/>.
/// </summary>
public sealed class SandboxServer : IAsyncDisposable
{
    private const long MaxUploadBytes = 60L * 1024 * 1024; // above Telegram's 50 MB, so a too-big file is the client's test to fail

    private readonly WebApplication _app;
    private int _stopped;

    private SandboxServer(WebApplication app, SandboxSettings settings, Uri baseUrl, SandboxControl control)
    {
        _app = app;
        Settings = settings;
        BaseUrl = baseUrl;
        Control = control;
    }

    /// <summary>The bound address (the real port when <see cref="SandboxSettings.Url"/> asked for port 0), ending in "/".</summary>
    public Uri BaseUrl { get; }

    /// <summary>The bot's current token: <see cref="SandboxSettings.Token"/> until <see cref="SandboxControl.RevokeToken"/> replaces it.</summary>
    public string Token => Control.Token;

    public long PrivateChatId => Settings.ApproverId;

    public SandboxSettings Settings { get; }

    public SandboxControl Control { get; }

    public static Task<SandboxServer> StartAsync(SandboxSettings settings, CancellationToken ct = default) =>
        StartAsync(settings, loggerFactory: null, ct);

    /// <summary>Starts the sandbox, logging through <paramref name="loggerFactory"/> (none when null).</summary>
    public static Task<SandboxServer> StartAsync(SandboxSettings settings, ILoggerFactory? loggerFactory, CancellationToken ct = default) =>
        StartAsync(settings, loggerFactory, TimeProvider.System, ct);

    /// <summary>
    /// Starts the sandbox on <paramref name="clock"/>: message dates, the call log and the rate limits read it, so a test
    /// can move the sandbox's minute along with a bot's (long polls and control waits still run in real time).
    /// </summary>
    public static async Task<SandboxServer> StartAsync(SandboxSettings settings, ILoggerFactory? loggerFactory, TimeProvider clock, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(settings);
        if (!BotToken.IsWellFormed(settings.Token))
        {
            throw new ArgumentException("SandboxSettings.Token must look like a bot token: \"<digits>:<letters, digits, - or _>\".", nameof(settings));
        }

        if (settings.FirstMessageId < 1)
        {
            throw new ArgumentException($"SandboxSettings.FirstMessageId must be at least 1 (got {settings.FirstMessageId}): Telegram's message ids are positive.", nameof(settings));
        }

        if (!settings.AllowRemote && !SandboxSettings.IsLoopbackUrl(settings.Url))
        {
            throw new ArgumentException(
                $"SandboxSettings.Url must be a loopback address such as http://127.0.0.1:5780 (got \"{settings.Url}\"): anyone who reaches the sandbox " +
                "can press buttons as the approver, and its control surface has no login. Set AllowRemote (--allow-remote) to listen there anyway.",
                nameof(settings));
        }

        // The empty builder reads no appsettings, environment or command line: an in-process sandbox
        // must not pick up the host's ASPNETCORE_URLS or configuration by accident.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(SandboxServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().UseUrls(settings.Url).ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxUploadBytes);
        builder.Services.AddRoutingCore();
        builder.Services.AddSingleton<IHostLifetime, Http.OwnerControlledLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Logging.AddProvider(new ForwardingLoggerProvider(loggerFactory));
        }

        // Request and routing logs print URLs, and Bot API URLs carry the token.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        // A failed start or stop is thrown to the owner (a start's with the URL it could not listen on), who reports it; the
        // host's own line would print the same failure first, with its stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ApprovalBot.Sandbox");
        var spec = BotApiSpec.Instance;
        var state = new SandboxState(settings, clock);
        var control = new SandboxControl(state, spec, logger);
        SandboxRoutes.Map(app, state, control, spec, logger);

        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            // Only a bind refused (IOException) is the port being taken; Kestrel's other refusals (a path in the URL) are not.
            var hint = e is IOException ? " (is another sandbox running? use port 0 for any free port)" : "";
            throw new InvalidOperationException($"The Telegram sandbox cannot listen on {settings.Url}: {e.Message}{hint}", e);
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var baseUrl = new Uri(address.EndsWith('/') ? address : address + "/");
        logger.LogInformation("Telegram sandbox ({SpecVersion}) listening on {BaseUrl}; open it in a browser to act as the approver", spec.Version, baseUrl.ToString());
        return new SandboxServer(app, settings, baseUrl, control);
    }

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
