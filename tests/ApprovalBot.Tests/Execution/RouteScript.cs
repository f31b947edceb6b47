using System.Text.Json;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Execution;

/// <summary>
/// A command route as a real bash script in a temp folder. Each run leaves a file with its stdin and
/// environment; its behaviour comes from the <c>mode</c> file, so a test can change it between attempts.
/// It is also a sink that dedupes by idempotency key: an effect is written once per key. Mode <c>exitN</c> exits
/// with code N on purpose (no effect); <c>then-touch:PATH</c> succeeds, then creates the file PATH (a fault marker);
/// <c>wait-for:PATH</c> succeeds once the file PATH exists (a run the test holds and releases); <c>sigkill-once</c> kills
/// itself on its first run and succeeds from then on, whoever starts the next run (a test's cycle or the background job).
/// <c>background</c> leaves a <c>sleep</c> behind that holds stdout and stderr open, then succeeds (<c>background-fail</c>:
/// fails); <c>term-trap</c> hangs until SIGTERM, which it answers by leaving a <c>terminated</c> file; <c>ignore-term</c>
/// hangs and ignores SIGTERM. The pid of a run is in its file names, so a test can tell whether it still runs.
/// </summary>
internal sealed class RouteScript : IDisposable
{
    private const string Script = """
        #!/bin/bash
        dir="$1"
        payload=$(cat)
        mode=$(cat "$dir/mode" 2>/dev/null || echo ok)
        run="$dir/runs/$(date +%s%N)-$$"
        printf '%s' "$payload" > "$run.tmp"
        printf '%s\n%s\n' "$APPROVAL_ID" "$APPROVAL_IDEMPOTENCY_KEY" > "$run.env"
        env > "$run.environ"
        mv "$run.tmp" "$run.json"
        case "$mode" in
          fail) echo "sink said no" >&2; exit 3 ;;
          hang) sleep 600 ;;
          sigkill) kill -9 $$ ;;
          sigkill-once) if [ ! -e "$dir/killed-once" ]; then touch "$dir/killed-once"; kill -9 $$; fi ;;
          slow) sleep 60 ;;
          wait-for:*) while [ ! -e "${mode#wait-for:}" ]; do sleep 0.02; done ;;
          exit[0-9]*) echo "chose to exit ${mode#exit}" >&2; exit "${mode#exit}" ;;
          background) sleep 600 & echo $! > "$dir/background.pid" ;;
          background-fail) sleep 600 & echo $! > "$dir/background.pid"; echo "sink said no" >&2; exit 3 ;;
          term-trap) trap 'echo terminated > "$dir/terminated"; exit 143' TERM; sleep 600 & wait $! ;;
          ignore-term) trap '' TERM; sleep 600 & echo $! > "$dir/background.pid"; wait $! ;;
        esac
        if [ -e "$dir/effects/$APPROVAL_IDEMPOTENCY_KEY" ]; then
          echo "duplicate:$APPROVAL_IDEMPOTENCY_KEY"
          exit 0
        fi
        echo "$APPROVAL_ID" > "$dir/effects/$APPROVAL_IDEMPOTENCY_KEY"
        echo "https://example.test/$APPROVAL_ID"
        echo "second line is not stored"
        case "$mode" in
          then-touch:*) touch "${mode#then-touch:}" ;;
        esac
        """;

    private readonly TempDirectory _dir = new();

    public RouteScript(string mode = "ok")
    {
        Directory.CreateDirectory(_dir.Combine("runs"));
        Directory.CreateDirectory(_dir.Combine("effects"));
        File.WriteAllText(_dir.Combine("route.sh"), Script.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir.Combine("route.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        Mode = mode;
    }

    public string Folder => _dir.Path;

    public string Mode
    {
        set => File.WriteAllText(_dir.Combine("mode"), value);
    }

    /// <summary>Settings that make <paramref name="kind"/> run this script.</summary>
    public IEnumerable<string> Settings(string kind, int maxAttempts = 3, int timeoutSeconds = 30, bool idempotent = false) =>
    [
        $"ApprovalBot:Kinds:{kind}:Executor:Type=command",
        $"ApprovalBot:Kinds:{kind}:Executor:Command:0={_dir.Combine("route.sh")}",
        $"ApprovalBot:Kinds:{kind}:Executor:Command:1={_dir.Path}",
        $"ApprovalBot:Kinds:{kind}:Executor:MaxAttempts={maxAttempts}",
        $"ApprovalBot:Kinds:{kind}:Executor:TimeoutSeconds={timeoutSeconds}",
        $"ApprovalBot:Kinds:{kind}:Executor:Idempotent={idempotent}",
    ];

    /// <summary>Every run so far: its stdin JSON and the environment it saw.</summary>
    /// <summary>The whole environment of every run so far, one NAME=value per line.</summary>
    public IReadOnlyList<string[]> Environments() =>
        [.. Directory.GetFiles(_dir.Combine("runs"), "*.environ").Order(StringComparer.Ordinal).Select(File.ReadAllLines)];

    public IReadOnlyList<Run> Runs()
    {
        var runs = new List<Run>();
        foreach (var json in Directory.GetFiles(_dir.Combine("runs"), "*.json").Order(StringComparer.Ordinal))
        {
            var env = File.ReadAllLines(Path.ChangeExtension(json, ".env"));
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            runs.Add(new Run(doc.RootElement.Clone(), env[0], env[1]));
        }
        return runs;
    }

    /// <summary>The pid of every run so far (the script's <c>$$</c>), in the order they started.</summary>
    public IReadOnlyList<int> Pids() =>
        [.. Directory.GetFiles(_dir.Combine("runs"), "*.env").Order(StringComparer.Ordinal)
            .Select(f => int.Parse(Path.GetFileNameWithoutExtension(f).Split('-')[1], System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The pid of the <c>sleep</c> a background or ignore-term run left behind.</summary>
    public int BackgroundPid() => int.Parse(File.ReadAllText(_dir.Combine("background.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether a term-trap run got SIGTERM and handled it.</summary>
    public bool Terminated => File.Exists(_dir.Combine("terminated"));

    /// <summary>Whether the process can still act: it exists and is not a zombie (an orphan's zombie may wait long to be reaped).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Effects at the sink, one per idempotency key.</summary>
    public IReadOnlyList<string> Effects() => [.. Directory.GetFiles(_dir.Combine("effects")).Select(Path.GetFileName)!];

    /// <summary>As if an earlier run (of a process that then died) had already taken effect for this key.</summary>
    public void RecordEffect(string key, string id) => File.WriteAllText(Path.Combine(_dir.Combine("effects"), key), id);

    public void Dispose() => _dir.Dispose();

    internal sealed record Run(JsonElement Payload, string EnvId, string EnvKey)
    {
        public string Text => Payload.GetProperty("text").GetString()!;

        public string Key => Payload.GetProperty("idempotency_key").GetString()!;

        public int Attempt => Payload.GetProperty("attempt").GetInt32();
    }
}
