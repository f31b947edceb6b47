using System.Diagnostics;
using System.Globalization;
using System.Text;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Hosting;
using ApprovalBot.Pipe;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// Decomposes one submit, layer by layer, each layer a stage measured in slices interleaved round-robin with the
/// others (so every stage sees the same background load): the floor; the store's real transaction run directly on
/// SQLite in one thread (same schema, PRAGMAs and statements as the writer); <c>DraftStore.SubmitAsync</c> in an
/// in-process host (through the group-commit writer); a ping and a submit over the pipe to that host. The
/// difference between two neighbouring stages is what that layer costs.
/// </summary>
internal static class Probe
{
    internal sealed class Stage(string name, Func<int, ValueTask> op, Func<string>? note = null)
    {
        public string Name { get; } = name;
        public Samples Samples { get; } = new();
        public Func<int, ValueTask> Op { get; } = op;
        public Func<string>? Note { get; } = note;
        public int Next;
    }

    internal sealed record Result(IReadOnlyList<Stage> Stages)
    {
        public Stage this[string name] => Stages.First(s => s.Name == name);

        /// <summary>One line per stage: p50/p99, ratio to the floor, and the step from the previous stage.</summary>
        public string Table()
        {
            var floor = Stages[0].Samples;
            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"  {"stage (ms)",-60} {"p50",7} {"p99",7} {"x p50",6} {"x p99",6}  note");
            foreach (var s in Stages)
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"  {s.Name,-60} {s.Samples.P50,7:0.000} {s.Samples.P99,7:0.000} {s.Samples.P50 / floor.P50,6:0.00} {s.Samples.P99 / floor.P99,6:0.00}  {s.Note?.Invoke()}");
            }
            return text.ToString();
        }
    }

    /// <summary>
    /// Runs every stage in <paramref name="rounds"/> rounds of <paramref name="slice"/> operations, after unmeasured
    /// rounds until the JIT of the processes <paramref name="pids"/> has gone quiet (see <see cref="JitWarmup"/>).
    /// </summary>
    public static async Task<Result> RunAsync(IReadOnlyList<Stage> stages, int rounds, int slice, IReadOnlyList<int> pids)
    {
        var warm = 0;
        await JitWarmup.UntilQuietAsync(async () =>
        {
            var stage = stages[warm++ % stages.Count];
            for (var i = 0; i < slice / 4; i++)
            {
                await stage.Op(stage.Next++);
            }
        }, pids, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
        for (var round = 1; round <= rounds; round++)
        {
            // Rotate the order so no stage always follows the same neighbour (the page cache, a woken thread pool).
            for (var k = 0; k < stages.Count; k++)
            {
                var stage = stages[(k + round) % stages.Count];
                for (var i = 0; i < slice; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await stage.Op(stage.Next++);
                    stage.Samples.Add(Ms.Since(start));
                }
            }
        }
        return new Result(stages);
    }

    /// <summary>The decomposition row of the report: floor, transaction, store, ping and submit over the pipe.</summary>
    public static async Task<string> MeasureAsync(string work, int count)
    {
        await using var rig = await Rig.StartAsync(work);
        var result = await RunAsync(rig.Stages, rounds: 4, slice: count / 4, [Environment.ProcessId]);
        var f = result["floor"].Samples;
        var tx = result["transaction"].Samples;
        var write = result["store"].Samples;
        var ping = result["pipe ping"].Samples;
        var submit = result["pipe submit"].Samples;
        return $"floor p50/p99 {Ms.F(f.P50)}/{Ms.F(f.P99)} ms; the store's transaction alone (direct, one thread) {Ms.F(tx.P50)}/{Ms.F(tx.P99)} ms " +
               $"({tx.P50 / f.P50:0.0}x p50, {rig.TransactionFrames()}); store write through the writer {Ms.F(write.P50)}/{Ms.F(write.P99)} ms ({write.P50 / f.P50:0.0}x p50); " +
               $"pipe ping round trip {Ms.F(ping.P50)}/{Ms.F(ping.P99)} ms; pipe submit {Ms.F(submit.P50)}/{Ms.F(submit.P99)} ms ({submit.P50 / f.P50:0.0}x p50, {submit.P99 / f.P99:0.0}x p99)";
    }

    /// <summary>
    /// The stages of the decomposition and what they need: a floor database, a database with the product's schema for
    /// the direct transaction, and an in-process host (store and pipe only, logging at Warning) with its own database.
    /// </summary>
    internal sealed class Rig : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];
        public List<Stage> Stages { get; } = [];
        public Func<string> TransactionFrames { get; private set; } = () => "";
        public IHost Host { get; private set; } = null!;
        public string Socket { get; private set; } = "";

        public static async Task<Rig> StartAsync(string work)
        {
            var rig = new Rig();
            var data = Path.Combine(work, "probe");
            Directory.CreateDirectory(data);
            var floor = new SqliteBaselines.FloorRunner(data);
            rig._owned.Add(new Disposer(floor.Dispose));
            rig.Stages.Add(new Stage("floor", _ => { floor.Run(1); return ValueTask.CompletedTask; }));

            var tx = DirectTransaction.Create(Path.Combine(data, "direct"));
            rig._owned.Add(new Disposer(tx.Dispose));
            rig.Stages.Add(new Stage("transaction", i => { tx.Submit($"reply:direct:{i}"); return ValueTask.CompletedTask; }, tx.FramesNote));
            rig.TransactionFrames = tx.FramesNote;

            rig.Socket = Path.Combine(data, "p.sock");
            var builder = ApprovalBotHost.CreateBuilder([$"--ApprovalBot:DataDirectory={Path.Combine(data, "host")}", $"--ApprovalBot:Pipe:Name={rig.Socket}", "--Serilog:MinimumLevel:Default=Warning"]);
            builder.AddApprovalBotLogging();
            builder.AddApprovalStore();
            builder.AddAgentPipe();
            var host = builder.Build();
            await host.StartAsync();
            rig.Host = host;
            rig._owned.Add(new Disposer(() => { host.StopAsync().GetAwaiter().GetResult(); host.Dispose(); }));
            await host.Services.GetRequiredService<AgentPipeServer>().Listening;
            var store = host.Services.GetRequiredService<DraftStore>();
            var hostWal = new FileInfo(Path.Combine(data, "host", "approvals.db-wal"));
            rig.Stages.Add(new Stage("store", async i =>
                await store.SubmitAsync(new NewDraft($"reply:store:{i}", "reply", "probe", Workload.Text, Workload.Sha256, null)),
                () => { hostWal.Refresh(); return hostWal.Exists ? $"WAL file {hostWal.Length / 1e6:0.0} MB" : ""; }));
            var client = await PipeClient.ConnectAsync(rig.Socket, TimeSpan.FromSeconds(5));
            rig._owned.Add(client);
            rig.Stages.Add(new Stage("pipe ping", async _ => Check(await client.PingAsync(), receipt: false)));
            rig.Stages.Add(new Stage("pipe submit", async i => Check(await client.SubmitAsync(PipeLoad.Draft($"reply:pipe:{i}")), receipt: true)));
            return rig;
        }

        public async ValueTask DisposeAsync()
        {
            for (var i = _owned.Count - 1; i >= 0; i--)
            {
                await _owned[i].DisposeAsync();
            }
        }
    }

    private static void Check(Response response, bool receipt)
    {
        if (!response.Ok || (receipt && response.Receipt is null))
        {
            throw new InvalidOperationException($"{response.Error?.Code}: {response.Error?.Message}");
        }
    }

    private sealed class Disposer(Action dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// The writer's transaction for one submit, run directly in this thread on a database opened and migrated by the
    /// product's <see cref="SqliteDatabase"/>: BEGIN IMMEDIATE, SAVEPOINT, the duplicate check, the draft row, the
    /// ledger row, RELEASE, COMMIT, with prepared statements. Checkpoints as the writer does them (none on the commit
    /// path, a PASSIVE one every 100 commits), here between commits and untimed, which also counts WAL frames.
    /// </summary>
    internal sealed class DirectTransaction : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteCommand[] _commands;
        private readonly SqliteCommand _select;
        private readonly SqliteCommand _insert;
        private readonly SqliteCommand _event;
        private readonly SqliteCommand _checkpoint;
        private readonly SqliteDatabase _database;
        private int _commits;
        private long _frames;
        private long _framedCommits;

        /// <summary>
        /// How checkpoints are taken: a PASSIVE one every 100 commits between two commits, untimed (where the writer
        /// ends up with its catch-up); never; or only beside the commits, on another connection and thread (the
        /// writer before its catch-up: under a steady stream the WAL then never starts over and grows).
        /// </summary>
        public enum Checkpoints
        {
            Between,
            Never,
            Beside,
        }

        private readonly Checkpoints _mode;
        private readonly System.Threading.Channels.Channel<bool> _wake = System.Threading.Channels.Channel.CreateBounded<bool>(1);
        private readonly Task? _beside;

        private DirectTransaction(SqliteDatabase database, Checkpoints mode)
        {
            _database = database;
            _mode = mode;
            if (mode == Checkpoints.Beside)
            {
                _beside = Task.Run(async () =>
                {
                    using var connection = database.Open();
                    using var cmd = connection.CreateCommand();
                    cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                    while (await _wake.Reader.WaitToReadAsync())
                    {
                        _wake.Reader.TryRead(out _);
                        cmd.ExecuteNonQuery();
                    }
                });
            }
            _connection = database.Open();
            Exec("PRAGMA wal_autocheckpoint=0;");
            _select = Prepare("SELECT seq, sha256, state FROM drafts WHERE id = $id");
            _insert = Prepare(
                "INSERT INTO drafts(id, kind, agent, text, sha256, context, state, created_at, updated_at, state_since) " +
                "VALUES ($id, $kind, $agent, $text, $sha, $context, 'pending', $now, $now, $now) RETURNING seq");
            _event = Prepare("INSERT INTO events(draft_id, at, type, actor, details) VALUES ($d, $at, $type, $actor, $details)");
            _checkpoint = Prepare("PRAGMA wal_checkpoint(PASSIVE);");
            _commands = [Prepare("BEGIN IMMEDIATE"), Prepare("SAVEPOINT w"), Prepare("RELEASE w"), Prepare("COMMIT")];
        }

        /// <param name="alter">Statements run on the migrated schema first (experiments: an index dropped).</param>
        public static DirectTransaction Create(string directory, string? alter = null, Checkpoints mode = Checkpoints.Between)
        {
            var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = directory }));
            database.Initialize();
            if (alter is not null)
            {
                using var connection = database.Open();
                using var cmd = connection.CreateCommand();
                cmd.CommandText = alter;
                cmd.ExecuteNonQuery();
            }
            return new DirectTransaction(database, mode);
        }

        private SqliteCommand Prepare(string sql)
        {
            var cmd = _connection.CreateCommand();
            cmd.CommandText = sql;
            return cmd;
        }

        private void Exec(string sql)
        {
            using var cmd = Prepare(sql);
            cmd.ExecuteNonQuery();
        }

        public void Submit(string id)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _commands[0].ExecuteNonQuery();
            _commands[1].ExecuteNonQuery();
            _select.Parameters.Clear();
            _select.Parameters.AddWithValue("$id", id);
            using (var reader = _select.ExecuteReader())
            {
                if (reader.Read()) throw new InvalidOperationException("duplicate " + id);
            }
            _insert.Parameters.Clear();
            _insert.Parameters.AddWithValue("$id", id);
            _insert.Parameters.AddWithValue("$kind", "reply");
            _insert.Parameters.AddWithValue("$agent", "bench-agent");
            _insert.Parameters.AddWithValue("$text", Workload.Text);
            _insert.Parameters.AddWithValue("$sha", Workload.Sha256);
            _insert.Parameters.AddWithValue("$context", DBNull.Value);
            _insert.Parameters.AddWithValue("$now", now);
            _insert.ExecuteScalar();
            _event.Parameters.Clear();
            _event.Parameters.AddWithValue("$d", id);
            _event.Parameters.AddWithValue("$at", now);
            _event.Parameters.AddWithValue("$type", "submitted");
            _event.Parameters.AddWithValue("$actor", "agent:bench-agent");
            _event.Parameters.AddWithValue("$details", "{\"kind\":\"reply\",\"sha256\":\"" + Workload.Sha256 + "\",\"length\":207}");
            _event.ExecuteNonQuery();
            _commands[2].ExecuteNonQuery();
            _commands[3].ExecuteNonQuery();
            if (++_commits % DraftWriter.CheckpointEveryCommits != 0)
            {
                return;
            }
            if (_mode == Checkpoints.Beside)
            {
                _wake.Writer.TryWrite(true);
            }
            else if (_mode == Checkpoints.Between)
            {
                // Column 1 is the WAL's frame count since its last reset, i.e. since the previous checkpoint here.
                using var reader = _checkpoint.ExecuteReader();
                reader.Read();
                _frames += reader.GetInt64(1);
                _framedCommits += DraftWriter.CheckpointEveryCommits;
            }
        }

        public string FramesNote()
        {
            var wal = new FileInfo(_database.DatabasePath + "-wal");
            var size = wal.Exists ? $"WAL file {wal.Length / 1e6:0.0} MB" : "";
            return _framedCommits == 0 ? size : $"{_frames / (double)_framedCommits:0.0} WAL pages per commit, {size}";
        }

        public void Dispose()
        {
            _wake.Writer.TryComplete();
            _beside?.GetAwaiter().GetResult();
            foreach (var cmd in _commands.Concat([_select, _insert, _event, _checkpoint]))
            {
                cmd.Dispose();
            }
            _connection.Dispose();
            _database.Dispose();
        }
    }
}
