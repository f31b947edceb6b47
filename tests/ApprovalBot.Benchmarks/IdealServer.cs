using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ApprovalBot.Client;
using ApprovalBot.Drafts;
using ApprovalBot.Pipe;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// An experiment, not the service: the leanest server of submits this machine allows, to bound what any redesign of
/// the service's pipe and writer could reach at item 4. One thread waits on every connection at once (poll), reads
/// every request that has arrived, stores them all in one transaction with the service's schema and statements
/// (duplicate check, draft row, ledger event, a savepoint each), commits (one fsync, synchronous=FULL), then writes
/// every answer: about one sleep per batch instead of several per request. Parsing and answering use the service's
/// own contract types. No logging, no other services, no other ops than ping and submit, no limits, no stop.
/// <para>
/// Started by <c>--load</c> for the build "ideal" as a child process, like the real host, with <c>BENCH_IDEAL_SERVER=1</c>.
/// With <c>BENCH_IDEAL_PIPELINED=1</c> a second thread commits while the first reads and parses the next requests; with
/// <c>=2</c> it also commits with synchronous=NORMAL and a third thread fsyncs the WAL file before answering.
/// <c>BENCH_IDEAL_SQL</c> runs SQL on the writer's connection first (schema or pragma variants),
/// <c>BENCH_IDEAL_PAGE_SIZE</c> creates the database with that page size, <c>BENCH_IDEAL_STATS=FILE</c> appends the
/// commits, submits per commit and COMMIT time of every second to FILE.
/// </para>
/// </summary>
internal static class IdealServer
{
    public static bool Requested => Environment.GetEnvironmentVariable("BENCH_IDEAL_SERVER") == "1";

    private sealed class Connection(Socket socket)
    {
        public Socket Socket { get; } = socket;
        public byte[] Buffer = new byte[64 * 1024];
        public int Filled;
    }

    private sealed record Request(Connection Connection, byte[] Line);

    public static int Run(string[] args)
    {
        var dataDirectory = Arg(args, "--ApprovalBot:DataDirectory=");
        var socketPath = Arg(args, "--ApprovalBot:Pipe:Name=");
        var database = new SqliteDatabase(Options.Create(new StoreOptions { DataDirectory = dataDirectory }));
        if (Environment.GetEnvironmentVariable("BENCH_IDEAL_PAGE_SIZE") is { Length: > 0 } pageSize)
        {
            // Only takes before the first table is created.
            using var fresh = database.OpenDedicated();
            using var pragma = fresh.CreateCommand();
            pragma.CommandText = $"PRAGMA page_size={pageSize}; CREATE TABLE t(x); DROP TABLE t;";
            pragma.ExecuteNonQuery();
        }
        database.Initialize();
        var writer = database.OpenDedicated();
        if (Environment.GetEnvironmentVariable("BENCH_IDEAL_SQL") is { Length: > 0 } sql)
        {
            // Schema variants, e.g. "DROP INDEX events_by_draft".
            using var variant = writer.CreateCommand();
            variant.CommandText = sql;
            variant.ExecuteNonQuery();
        }
        var store = new Batches(writer);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(512);
        listener.Blocking = false;
        var connections = new Dictionary<Socket, Connection>();
        var ready = new List<Socket>();
        var requests = new List<Request>();
        var mode = Environment.GetEnvironmentVariable("BENCH_IDEAL_PIPELINED");
        Syncer? syncer = null;
        if (mode == "2")
        {
            // The commit writes the WAL without syncing it; the syncer's fsync of the WAL file, then the answers.
            // synchronous=NORMAL keeps SQLite's ordering syncs (before a checkpoint, after it, the WAL header on reuse).
            using var normal = writer.CreateCommand();
            normal.CommandText = "PRAGMA synchronous=NORMAL";
            normal.ExecuteNonQuery();
            syncer = new Syncer(database.DatabasePath + "-wal");
        }
        var handOff = mode is "1" or "2" ? new HandOff(store, syncer) : null;
        while (true)
        {
            ready.Clear();
            ready.Add(listener);
            ready.AddRange(connections.Keys);
            Socket.Select(ready, null, null, -1);
            foreach (var socket in ready)
            {
                if (socket == listener)
                {
                    Accept(listener, connections);
                    continue;
                }
                if (!Read(connections[socket], requests))
                {
                    connections.Remove(socket);
                    socket.Dispose();
                }
            }
            if (requests.Count == 0)
            {
                continue;
            }
            if (handOff is not null)
            {
                handOff.Give(store.Parse(requests));
            }
            else
            {
                Answer(store.Store(store.Parse(requests)));
            }
            requests.Clear();
        }
    }

    private static string Arg(string[] args, string prefix) => args.First(a => a.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..];

    private static void Accept(Socket listener, Dictionary<Socket, Connection> connections)
    {
        while (true)
        {
            try
            {
                var accepted = listener.Accept();
                accepted.Blocking = false;
                connections[accepted] = new Connection(accepted);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                return;
            }
        }
    }

    /// <summary>Reads what has arrived and cuts it into lines; false once the client has gone.</summary>
    private static bool Read(Connection c, List<Request> requests)
    {
        while (true)
        {
            var read = c.Socket.Receive(c.Buffer.AsSpan(c.Filled), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock) break;
            if (error != SocketError.Success || read == 0) return false;
            c.Filled += read;
            if (c.Filled == c.Buffer.Length) Array.Resize(ref c.Buffer, c.Buffer.Length * 2);
        }
        var start = 0;
        int newline;
        while ((newline = Array.IndexOf(c.Buffer, (byte)'\n', start, c.Filled - start)) >= 0)
        {
            requests.Add(new Request(c, c.Buffer.AsSpan(start, newline - start).ToArray()));
            start = newline + 1;
        }
        Buffer.BlockCopy(c.Buffer, start, c.Buffer, 0, c.Filled - start);
        c.Filled -= start;
        return true;
    }

    private static void Answer(List<(Connection Connection, Response Response)> answers)
    {
        lock (AnswerGate) AnswerLocked(answers);
    }

    private static readonly object AnswerGate = new();

    private static void AnswerLocked(List<(Connection Connection, Response Response)> answers)
    {
        foreach (var (connection, response) in answers)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(response, ProtocolJson.Responses.Response);
            var line = new byte[json.Length + 1];
            json.CopyTo(line, 0);
            line[^1] = (byte)'\n';
            var sent = 0;
            while (sent < line.Length)
            {
                var n = connection.Socket.Send(line.AsSpan(sent), SocketFlags.None, out var error);
                if (error is not (SocketError.Success or SocketError.WouldBlock)) break;
                sent += n;
            }
        }
    }

    /// <summary>The pipelined variant's committer: takes parsed batches and commits and answers them on its own thread.</summary>
    private sealed class HandOff
    {
        private readonly Batches _store;
        private readonly Syncer? _syncer;
        private readonly Queue<List<Parsed>> _queue = new();

        public HandOff(Batches store, Syncer? syncer)
        {
            _store = store;
            _syncer = syncer;
            new Thread(Loop) { IsBackground = true, Name = "ideal-committer" }.Start();
        }

        public void Give(List<Parsed> batch)
        {
            lock (_queue)
            {
                _queue.Enqueue(batch);
                Monitor.Pulse(_queue);
            }
        }

        private void Loop()
        {
            while (true)
            {
                var all = new List<Parsed>();
                lock (_queue)
                {
                    while (_queue.Count == 0) Monitor.Wait(_queue);
                    while (_queue.TryDequeue(out var batch)) all.AddRange(batch);
                }
                var answers = _store.Store(all);
                if (_syncer is not null) _syncer.Give(answers);
                else Answer(answers);
            }
        }
    }

    /// <summary>Answers committed batches once an fsync of the WAL that began after their commit has returned.</summary>
    private sealed class Syncer
    {
        private readonly FileStream _wal;
        private readonly List<(Connection, Response)> _pending = new();

        public Syncer(string walPath)
        {
            _wal = new FileStream(walPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            new Thread(Loop) { IsBackground = true, Name = "ideal-syncer" }.Start();
        }

        public void Give(List<(Connection, Response)> answers)
        {
            lock (_pending)
            {
                _pending.AddRange(answers);
                Monitor.Pulse(_pending);
            }
        }

        private void Loop()
        {
            while (true)
            {
                List<(Connection, Response)> due;
                lock (_pending)
                {
                    while (_pending.Count == 0) Monitor.Wait(_pending);
                    due = [.. _pending];
                    _pending.Clear();
                }
                _wal.Flush(flushToDisk: true);
                Answer(due);
            }
        }
    }

    private sealed record Parsed(Connection Connection, NewDraft? Draft, Response? Answer);

    /// <summary>The submit's statements as <c>DraftStore.SubmitAsync</c> runs them, prepared once.</summary>
    private sealed class Batches
    {
        private readonly SqliteConnection _connection;
        private long _commits, _written, _commitTicks, _since = Stopwatch.GetTimestamp();
        private readonly SqliteCommand _savepoint, _release, _existing, _insert, _event;

        public Batches(SqliteConnection connection)
        {
            _connection = connection;
            _savepoint = Command("SAVEPOINT w");
            _release = Command("RELEASE w");
            // The service's own statements, so this stays the same transaction as a submit's.
            _existing = Command(DraftStore.SubmittedIdSql, "$id");
            _insert = Command(DraftStore.InsertDraftSql, "$id", "$kind", "$agent", "$text", "$sha", "$context", "$now");
            _event = Command(WriteContext.AppendEventSql, "$d", "$at", "$type", "$actor", "$details");
        }

        private SqliteCommand Command(string sql, params string[] parameters)
        {
            var command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (var p in parameters) command.Parameters.Add(new SqliteParameter(p, DBNull.Value));
            return command;
        }

        public List<Parsed> Parse(List<Request> requests)
        {
            var parsed = new List<Parsed>(requests.Count);
            foreach (var r in requests)
            {
                using var document = JsonDocument.Parse(r.Line);
                var root = document.RootElement;
                var op = root.GetProperty("op").GetString();
                if (op == Ops.Ping)
                {
                    parsed.Add(new Parsed(r.Connection, null, new Response { Ok = true, Version = "ideal" }));
                    continue;
                }
                var d = StrictRequest.Read(root, ProtocolJsonContext.Default.SubmitRequest).Draft;
                var context = d.Context is { ValueKind: JsonValueKind.Object } c ? c.GetRawText() : null;
                parsed.Add(new Parsed(r.Connection, new NewDraft(d.Id, d.Kind, d.Agent, d.Text, DraftHash.Of(d.Text), context), null));
            }
            return parsed;
        }

        public List<(Connection, Response)> Store(List<Parsed> batch)
        {
            var answers = new List<(Connection, Response)>(batch.Count);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            using (var transaction = _connection.BeginTransaction())
            {
                foreach (var p in batch)
                {
                    if (p.Draft is not { } draft)
                    {
                        answers.Add((p.Connection, p.Answer!));
                        continue;
                    }
                    _savepoint.Transaction = _release.Transaction = _existing.Transaction = _insert.Transaction = _event.Transaction = transaction;
                    _savepoint.ExecuteNonQuery();
                    _existing.Parameters[0].Value = draft.Id;
                    using (var existing = _existing.ExecuteReader())
                    {
                        if (existing.Read())
                        {
                            answers.Add((p.Connection, new Response
                            {
                                Ok = true, Receipt = new Receipt(draft.Id, existing.GetInt64(0), existing.GetString(1), States.Pending, Duplicate: true),
                            }));
                            _release.ExecuteNonQuery();
                            continue;
                        }
                    }
                    var ps = _insert.Parameters;
                    ps[0].Value = draft.Id; ps[1].Value = draft.Kind; ps[2].Value = draft.Agent; ps[3].Value = draft.Text;
                    ps[4].Value = draft.Sha256; ps[5].Value = (object?)draft.ContextJson ?? DBNull.Value; ps[6].Value = now;
                    var seq = (long)_insert.ExecuteScalar()!;
                    var es = _event.Parameters;
                    es[0].Value = draft.Id; es[1].Value = now; es[2].Value = "submitted"; es[3].Value = "agent:" + draft.Agent;
                    es[4].Value = DraftStore.SubmittedDetails(draft);
                    _event.ExecuteNonQuery();
                    _release.ExecuteNonQuery();
                    answers.Add((p.Connection, new Response { Ok = true, Receipt = new Receipt(draft.Id, seq, draft.Sha256, States.Pending, Duplicate: false) }));
                }
                var started = Stopwatch.GetTimestamp();
                transaction.Commit();
                _commitTicks += Stopwatch.GetTimestamp() - started;
            }
            _commits++;
            _written += batch.Count;
            if (Environment.GetEnvironmentVariable("BENCH_IDEAL_STATS") is { Length: > 0 } statsFile
                && Stopwatch.GetElapsedTime(_since).TotalSeconds >= 1)
            {
                File.AppendAllText(statsFile, $"{_commits} commits, {_written / (double)_commits:0.0} a commit, COMMIT {_commitTicks * 1e6 / Stopwatch.Frequency / _commits:0} us\n");
                _commits = _written = _commitTicks = 0;
                _since = Stopwatch.GetTimestamp();
            }
            return answers;
        }
    }
}
