using Microsoft.Data.Sqlite;

namespace ApprovalBot.Benchmarks;

/// <summary>One look at the host from outside: /proc, its data directory and its database (read-only).</summary>
internal sealed record SoakSample(
    double Seconds,
    double RssMb,
    int Fds,
    int Sockets,
    int Pipes,
    int Threads,
    double CpuSeconds,
    double DbMb,
    double WalMb,
    double WalUsedMb,
    double LogsMb,
    long LogLines,
    long ConsoleLines,
    long Drafts,
    long Events,
    long Requests,
    double SubmitP50,
    double SubmitP99,
    long StorageBytes,
    long WriteCalls,
    DateTime DbWritten);

/// <summary>Reads a <see cref="SoakSample"/>; log lines are counted incrementally, so a sample never rereads the logs.</summary>
internal sealed class SoakProbe(HostUnderTest host, string dataDirectory)
{
    private readonly Dictionary<string, (long Offset, long Lines)> _logs = new(StringComparer.Ordinal);

    public string Database => Path.Combine(dataDirectory, "approvals.db");

    public SoakSample Read(double seconds, long requests, Samples submits)
    {
        var fds = host.FileDescriptors();
        var io = host.Io();
        var (drafts, events) = Counts();
        var (logBytes, logLines) = Logs();
        var wal = new FileInfo(Database + "-wal");
        var db = new FileInfo(Database);
        var written = new[] { db.Exists ? db.LastWriteTimeUtc : DateTime.MinValue, wal.Exists ? wal.LastWriteTimeUtc : DateTime.MinValue }.Max();
        return new SoakSample(seconds, host.RssMb, fds.Total, fds.Sockets, fds.Pipes, host.Threads, host.CpuSeconds,
            db.Exists ? db.Length / 1e6 : 0, wal.Exists ? wal.Length / 1e6 : 0, WalUsedBytes() / 1e6, logBytes / 1e6, logLines, host.ConsoleLines,
            drafts, events, requests, submits.P50, submits.P99, io.StorageBytes, io.WriteCalls, written);
    }

    private (long Drafts, long Events) Counts()
    {
        using var connection = OpenReadOnly();
        using var cmd = connection.CreateCommand();
        // MAX(id) of the ledger, not COUNT(*): an index lookup rather than a scan of a growing table every sample.
        cmd.CommandText = "SELECT (SELECT COUNT(*) FROM drafts), (SELECT COALESCE(MAX(id), 0) FROM events)";
        using var reader = cmd.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>
    /// The part of the WAL in use: its last valid frame (mxFrame, at byte 16 of the wal-index header in the -shm file)
    /// times the frame size. The file itself only grows to its high-water mark (cut back to 64 MB when it starts over),
    /// so its size says little about whether checkpoints keep up; this does.
    /// </summary>
    private long WalUsedBytes()
    {
        try
        {
            using var shm = new FileStream(Database + "-shm", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var header = new byte[24];
            if (shm.Read(header) < header.Length) return 0;
            var pageSize = BitConverter.ToUInt16(header, 14) is var p and not 1 ? p : 65536;
            return BitConverter.ToUInt32(header, 16) * (long)(pageSize + 24);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public SqliteConnection OpenReadOnly()
    {
        var connection = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }

    /// <summary>Draft counts by state, for the report.</summary>
    public string States() => CountsBy("SELECT state, COUNT(*) FROM drafts GROUP BY state ORDER BY 2 DESC");

    /// <summary>Ledger events by type, for the report.</summary>
    public string EventTypes() => CountsBy("SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY 2 DESC");

    /// <summary>"name count, …" from a query of names and counts.</summary>
    private string CountsBy(string sql)
    {
        using var connection = OpenReadOnly();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        var parts = new List<string>();
        while (reader.Read()) parts.Add($"{reader.GetString(0)} {reader.GetInt64(1)}");
        return string.Join(", ", parts);
    }

    private (long Bytes, long Lines) Logs()
    {
        var folder = Path.Combine(dataDirectory, "logs");
        if (!Directory.Exists(folder)) return (0, 0);
        long bytes = 0, lines = 0;
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            var (offset, counted) = _logs.GetValueOrDefault(file);
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                bytes += stream.Length;
                stream.Position = offset;
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = stream.Read(buffer)) > 0)
                {
                    counted += buffer.AsSpan(0, read).Count((byte)'\n');
                    offset += read;
                }
            }
            catch (IOException)
            {
                continue;
            }
            _logs[file] = (offset, counted);
            lines += counted;
        }
        return (bytes, lines);
    }
}
