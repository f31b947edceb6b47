using System.Diagnostics;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Backups;

/// <summary>
/// <c>ApprovalBot backup &lt;file&gt;</c> and <c>ApprovalBot restore &lt;file&gt;</c>: the store's two maintenance commands,
/// reading the service's own configuration (appsettings.json, environment, <c>--ApprovalBot:…</c> arguments) for the data
/// directory. They print what they did to stdout when done, the reason to stderr when not, and exit 0 when done, 1 when
/// refused or failed, 2 for a wrong command line or configuration.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class StoreCommand
{
    public const int Done = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    /// <summary>The time a reader waits on a store another process is recovering or checkpointing.</summary>
    private static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(10);

    private readonly string _verb;
    private readonly string? _file;
    private readonly string[] _configuration;
    private readonly string? _usageError;
    private readonly bool _help;

    private StoreCommand(string verb, string? file, string[] configuration, string? usageError, bool help)
    {
        _verb = verb;
        _file = file;
        _configuration = configuration;
        _usageError = usageError;
        _help = help;
    }

    public static string UsageText =>
        """
        Usage:
          ApprovalBot backup <file> [--ApprovalBot:<Key>=<value> ...]    copy the store, while the service runs, to a new file
          ApprovalBot restore <file> [--ApprovalBot:<Key>=<value> ...]   put a backup in place of the store, while it is stopped
        The data directory is the service's (config/appsettings.json, ApprovalBot__* variables, the arguments).
        Exit codes: 0 done, 1 refused (nothing changed) or failed (the message says what is left), 2 wrong command line
        or configuration.
        """;

    /// <summary>
    /// The command <paramref name="args"/> name, or null when they start the service (settings only). A command line the
    /// service's configuration would misread is a usage error too (exit 2, before anything runs).
    /// </summary>
    public static StoreCommand? Parse(string[] args)
    {
        if (args is not [var verb, .. var rest] || verb.StartsWith('-') || verb.StartsWith('/') || verb.Contains('=', StringComparison.Ordinal))
        {
            return Misread(args) switch
            {
                null => null,
                // "ApprovalBot --ApprovalBot:DataDirectory=/x restore b.db" started the service on the store to be replaced.
                ({ } command, _) when command is "backup" or "restore" => new StoreCommand(command, null, [],
                    $"the command comes first, before the settings: ApprovalBot {command} <file> --ApprovalBot:<Key>=<value> ...", help: false),
                ({ } word, _) => new StoreCommand("", null, [], $"unexpected argument '{word}' (the service starts with settings only, given as --ApprovalBot:<Key>=<value>; its commands, backup and restore, come first)", help: false),
                (null, var error) => new StoreCommand("", null, [], error, help: false),
            };
        }
        if (verb is not ("backup" or "restore"))
        {
            // The configuration's command line skips a bare word: "ApprovalBot bakup x.db" started the service.
            return new StoreCommand(verb, null, [], $"unknown command '{verb}' (the service starts with settings only; its commands are backup and restore)", help: false);
        }
        if (rest is [("--help" or "-h"), ..])
        {
            return new StoreCommand(verb, null, [], null, help: true);
        }
        if (rest is [] || rest[0].Length == 0 || rest[0].StartsWith('-'))
        {
            return new StoreCommand(verb, null, [], $"name the {(verb == "backup" ? "new file to write" : "backup file to restore")}", help: false);
        }
        var configuration = rest[1..];
        for (var i = 0; i < configuration.Length; i++)
        {
            var arg = configuration[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                return new StoreCommand(verb, rest[0], configuration, $"unexpected argument '{arg}' (settings are given as --ApprovalBot:<Key>=<value>)", help: false);
            }
            if (!arg.Contains('=', StringComparison.Ordinal))
            {
                if (!HasValue(configuration, i))
                {
                    return new StoreCommand(verb, rest[0], configuration, NoValue(arg), help: false);
                }
                i++; // --Key value, as the configuration's command line reads it
            }
        }
        return new StoreCommand(verb, rest[0], configuration, null, help: false);
    }

    /// <summary>
    /// What the configuration's command line would misread in the service's arguments, or null: the first word it skips
    /// without a word (one with no <c>=</c> that is neither a key, starting with <c>--</c> or <c>/</c>, nor the value
    /// after one), or an error for a key without its value (dropped when last, given the next key as its value
    /// otherwise) or a single-dash switch (<c>-v</c> dropped, <c>-Key=value</c> a FormatException with its stack trace).
    /// </summary>
    private static (string? Word, string Error)? Misread(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal) || arg.StartsWith('/'))
            {
                if (arg is "--" or "/")
                {
                    return (null, Unexpected(arg));
                }
                if (!arg.Contains('=', StringComparison.Ordinal))
                {
                    if (!HasValue(args, i))
                    {
                        return (null, NoValue(arg));
                    }
                    i++; // --Key value
                }
            }
            else if (arg.StartsWith('-'))
            {
                return (null, Unexpected(arg));
            }
            else if (!arg.Contains('=', StringComparison.Ordinal))
            {
                return (arg, "");
            }
        }
        return null;
    }

    /// <summary>Whether the key at <paramref name="i"/> has a value after it: not the end, nor another key (a negative number is a value).</summary>
    private static bool HasValue(string[] args, int i) => i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);

    private static string NoValue(string key) => $"{key} has no value (give it as {key}=<value>)";

    private static string Unexpected(string arg) =>
        $"unexpected argument '{arg}' (the service starts with settings only, given as --ApprovalBot:<Key>=<value>; its commands, backup and restore, come first)";

    public int Run(TextWriter stdout, TextWriter stderr, TimeProvider time)
    {
        if (_help)
        {
            stdout.WriteLine(UsageText);
            return Done;
        }
        if (_usageError is not null)
        {
            stderr.WriteLine($"{(_verb.Length == 0 ? "ApprovalBot" : "ApprovalBot " + _verb)}: {_usageError}.");
            stderr.WriteLine(UsageText);
            return Usage;
        }
        StoreOptions options;
        try
        {
            options = ReadOptions(ApprovalBotHost.Configuration(_configuration));
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or IOException or InvalidDataException or OptionsValidationException)
        {
            // Said as the service's start says it (a file that is not JSON: the file, then where in it).
            stderr.WriteLine($"ApprovalBot {_verb}: the configuration is invalid:{StartupFailure.AsList(StartupFailure.ConfigurationErrors(ex) ?? [ex.Message])}");
            return Usage;
        }
        var file = Path.GetFullPath(_file!);
        var watch = Stopwatch.StartNew();
        try
        {
            if (_verb == "backup")
            {
                var copied = StoreBackup.Run(options.DatabasePath, file, BusyTimeout);
                stdout.WriteLine($"backed up to {file} ({copied}) in {watch.ElapsedMilliseconds} ms");
            }
            else
            {
                var r = StoreRestore.Run(options.DatabasePath, file, time, BusyTimeout);
                stdout.WriteLine($"restored {file} ({r.Restored}) into {options.DatabasePath} in {watch.ElapsedMilliseconds} ms; the next draft gets seq {r.NextSeq}");
                stdout.WriteLine(r.Replaced is null ? "there was no store to replace" : $"the replaced store is kept in {r.Replaced}");
                if (r.CountersNote is not null)
                {
                    stdout.WriteLine("note: " + r.CountersNote);
                }
                stdout.WriteLine("start the service to go on from the backup");
            }
            return Done;
        }
        catch (StoreCommandException ex)
        {
            stderr.WriteLine($"ApprovalBot {_verb}: {ex.Message}");
            return Failed;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ApprovalBot {_verb}: {ex.Message}");
            return Failed;
        }
    }

    /// <summary>The store's settings, checked as the service checks them at start (unknown keys, wrong types, ranges).</summary>
    private static StoreOptions ReadOptions(IConfiguration configuration)
    {
        var errors = new List<string>(UnknownSettings.Find(configuration));
        var options = new StoreOptions();
        configuration.GetSection(StoreOptions.Section).Bind(options);
        var validated = new StoreOptionsValidator().Validate(null, options);
        if (validated.Failed)
        {
            // A key given no value is named by UnknownSettings; its range check would say "got 0" of a value nobody gave.
            errors.AddRange(UnknownSettings.NotAboutKeysWithoutValue(validated.Failures, errors));
        }
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(StoreOptions.Section, typeof(StoreOptions), errors);
        }
        return options;
    }
}
