using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>
/// A command route (a real bash script) that keeps its own ledger next to the service's: every run appends a
/// <c>start</c> line, every effect an <c>effect</c> line, every finished run an <c>end</c> line (appends under
/// <c>flock</c>, so lines of concurrent runs never interleave). With <c>dedupe</c> it is a sink that honours
/// the idempotency key (an effect once per key, later runs answer "duplicate"); without it, every run that gets
/// that far is an effect, like a chat post that cannot be taken back. Each run takes a few random milliseconds,
/// so a SIGKILL of the host can land before, during or after the effect. A draft whose id contains <c>:fails-once:</c>
/// finds the sink down at its first attempt (exit 1, no effect) and is taken at the next.
/// </summary>
internal sealed class LedgerSink : IDisposable
{
    private const string Script = """
        #!/bin/bash
        dir="$1"
        dedupe="$2"
        key="$APPROVAL_IDEMPOTENCY_KEY"
        id="$APPROVAL_ID"
        run="$$-$(date +%s%N)"
        cat > /dev/null
        log() { flock "$dir/lock" -c "printf '%s %s %s %s\n' \"$1\" \"$id\" \"$key\" \"$run\" >> '$dir/ledger.log'"; }
        log start
        # A draft whose id says so finds the sink down at its first attempt (a clean failure: the service retries it).
        if [ "${id#*:fails-once:}" != "$id" ] && mkdir "$dir/failed-$key" 2>/dev/null; then
          log end
          echo "sink unavailable" >&2
          exit 1
        fi
        sleep "0.0$((RANDOM % 10))"
        if [ "$dedupe" = "dedupe" ]; then
          # The check and the effect are one step under the lock: the sink itself never doubles a key. The marker is
          # the effect's record, made whole by a rename, so a SIGKILL cannot leave an effect without its record.
          if ! flock "$dir/lock" -c "[ -e '$dir/effects/$key' ] && exit 1; printf '%s %s %s %s\n' effect \"$id\" \"$key\" \"$run\" > '$dir/effects/.$key.tmp' && mv '$dir/effects/.$key.tmp' '$dir/effects/$key'"; then
            log end
            echo "duplicate:$key"
            exit 0
          fi
        else
          log effect
        fi
        sleep "0.0$((RANDOM % 10))"
        log end
        echo "https://sink.example/$id"
        """;

    private readonly TempDirectory _dir = new();

    public LedgerSink(bool dedupe)
    {
        Dedupe = dedupe;
        Directory.CreateDirectory(_dir.Combine("effects"));
        File.WriteAllText(_dir.Combine("lock"), "");
        File.WriteAllText(_dir.Combine("ledger.log"), "");
        File.WriteAllText(_dir.Combine("sink.sh"), Script.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir.Combine("sink.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public bool Dedupe { get; }

    public string Folder => _dir.Path;

    /// <summary>Settings that make <paramref name="kind"/> run this sink; <paramref name="idempotent"/> tells the service whether it dedupes.</summary>
    public IEnumerable<string> Settings(string kind, bool idempotent, int maxAttempts = 5, int timeoutSeconds = 30) =>
    [
        $"ApprovalBot:Kinds:{kind}:Executor:Type=command",
        $"ApprovalBot:Kinds:{kind}:Executor:Command:0={_dir.Combine("sink.sh")}",
        $"ApprovalBot:Kinds:{kind}:Executor:Command:1={_dir.Path}",
        $"ApprovalBot:Kinds:{kind}:Executor:Command:2={(Dedupe ? "dedupe" : "every-run")}",
        $"ApprovalBot:Kinds:{kind}:Executor:MaxAttempts={maxAttempts}",
        $"ApprovalBot:Kinds:{kind}:Executor:TimeoutSeconds={timeoutSeconds}",
        $"ApprovalBot:Kinds:{kind}:Executor:Idempotent={idempotent}",
    ];

    /// <summary>Every line of the sink's ledger so far.</summary>
    public IReadOnlyList<Entry> Entries() => Parse(File.ReadAllLines(_dir.Combine("ledger.log")));

    private static List<Entry> Parse(IEnumerable<string> lines)
    {
        var entries = new List<Entry>();
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            if (parts.Length == 4)
            {
                entries.Add(new Entry(parts[0], parts[1], parts[2], parts[3]));
            }
        }
        return entries;
    }

    /// <summary>A deduping sink's effects are its markers (one per key); the other sink's are its ledger lines.</summary>
    public IReadOnlyList<Entry> Effects() => Dedupe
        ? [.. Directory.GetFiles(_dir.Combine("effects")).Where(f => !Path.GetFileName(f).StartsWith('.')).SelectMany(f => Parse(File.ReadAllLines(f)))]
        : [.. Entries().Where(e => e.What == "effect")];

    public IReadOnlyList<Entry> Starts() => [.. Entries().Where(e => e.What == "start")];

    /// <summary>Runs that started and never ended: cut off by a SIGKILL of the host's process tree.</summary>
    public int CutOff()
    {
        var entries = Entries();
        var ended = entries.Where(e => e.What == "end").Select(e => e.Run).ToHashSet(StringComparer.Ordinal);
        return entries.Count(e => e.What == "start" && !ended.Contains(e.Run));
    }

    public void Dispose() => _dir.Dispose();

    internal sealed record Entry(string What, string DraftId, string Key, string Run);
}
