using System.Globalization;
using System.Runtime.InteropServices;
using ApprovalBot.Sandbox.State;
using Microsoft.Extensions.Logging;

namespace ApprovalBot.Sandbox;

/// <summary>
/// Runs the sandbox on its own: dotnet run --project src/ApprovalBot.Sandbox -- --url http://127.0.0.1:5780 --token 123:abc
/// (a harness can then restart the host while the fake Telegram keeps its state).
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: ApprovalBot.Sandbox [--url URL] [--token TOKEN] [--approver-id ID] [--approver-name NAME]
                                   [--stranger-id ID] [--group-chat-id ID] [--no-rate-limits] [--allow-remote]
        --url must be a loopback address (127.0.0.1, [::1], localhost) unless --allow-remote is given:
        the sandbox's control surface has no login, so anyone who reaches it can approve as the approver.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["--help"] or ["-h"])
        {
            await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }
        SandboxSettings settings;
        try
        {
            settings = Parse(args);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync(e.Message + Environment.NewLine + Usage).ConfigureAwait(false);
            return 2;
        }

        if (!settings.AllowRemote && !SandboxSettings.IsLoopbackUrl(settings.Url))
        {
            await Console.Error.WriteLineAsync($"--url {settings.Url} is not a loopback address; add --allow-remote to listen there anyway." + Environment.NewLine + Usage).ConfigureAwait(false);
            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => o.SingleLine = true)
            .SetMinimumLevel(LogLevel.Information));
        using var stop = new CancellationTokenSource();
        // Handling the signals (instead of letting the runtime exit) lets the server stop cleanly, answering pending polls.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        SandboxServer server;
        try
        {
            server = await SandboxServer.StartAsync(settings, loggerFactory, stop.Token).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            // Most often the port is taken: a sentence, not a stack trace.
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 1;
        }

        await using var running = server;
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: fall through to a clean stop.
        }

        return 0;
    }

    private static SandboxSettings Parse(string[] args)
    {
        var settings = new SandboxSettings();
        for (var i = 0; i < args.Length; i++)
        {
            settings = args[i] switch
            {
                "--url" => settings with { Url = Value(args, ref i) },
                "--token" => settings with { Token = Value(args, ref i) },
                "--approver-id" => settings with { ApproverId = Long(args, ref i) },
                "--approver-name" => settings with { ApproverName = Value(args, ref i) },
                "--stranger-id" => settings with { StrangerId = Long(args, ref i) },
                "--group-chat-id" => settings with { GroupChatId = Long(args, ref i) },
                "--no-rate-limits" => settings with { RateLimits = false },
                "--allow-remote" => settings with { AllowRemote = true },
                var unknown => throw new FormatException($"unknown option {unknown}"),
            };
        }

        return Checked(settings);
    }

    /// <summary>Refuses, naming the option, what the sandbox would crash on or what Telegram never has.</summary>
    private static SandboxSettings Checked(SandboxSettings s)
    {
        if (SandboxSettings.UrlShapeProblem(s.Url) is { } problem)
        {
            throw new FormatException(problem == "not an http URL"
                ? $"--url {s.Url} is not an http URL: give http://<address>:<port>, such as http://127.0.0.1:5780"
                : $"--url {s.Url} has {problem}: give http://<address>:<port> and nothing more, such as http://127.0.0.1:5780");
        }
        if (!BotToken.IsWellFormed(s.Token))
        {
            throw new FormatException($"--token must look like a bot token, \"<digits>:<letters, digits, - or _>\" such as 123456:SANDBOX-token; got \"{s.Token}\"");
        }
        if (s.ApproverId <= 0)
        {
            throw new FormatException($"--approver-id must be a user id, a positive number; got {s.ApproverId}");
        }
        if (s.StrangerId <= 0)
        {
            throw new FormatException($"--stranger-id must be a user id, a positive number; got {s.StrangerId}");
        }
        if (s.GroupChatId >= 0)
        {
            throw new FormatException($"--group-chat-id must be a group chat id, a negative number (Telegram's group ids are); got {s.GroupChatId}");
        }
        if (string.IsNullOrWhiteSpace(s.ApproverName))
        {
            throw new FormatException("--approver-name must not be empty");
        }
        return s.StrangerId == s.ApproverId
            ? throw new FormatException($"--stranger-id must differ from --approver-id (both {s.ApproverId}): the stranger is the user who is not an approver")
            : s;
    }

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new FormatException($"{args[i - 1]} needs a value");

    private static long Long(string[] args, ref int i)
    {
        var text = Value(args, ref i);
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"{args[i - 1]} needs a number, got \"{text}\"");
    }
}
