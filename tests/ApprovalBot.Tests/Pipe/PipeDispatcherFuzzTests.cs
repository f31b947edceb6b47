using System.Globalization;
using System.Net.Sockets;
using ApprovalBot.Client;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Pipe;

/// <summary>
/// 100,000 generated and mutated requests against the real host process. Every line gets exactly one answer
/// (a protocol error or a valid response), the process survives with bounded memory, and the store holds
/// exactly the drafts whose submits were answered ok. <c>APPROVALBOT_FUZZ_CASES</c> and
/// <c>APPROVALBOT_FUZZ_SEED</c> make longer or different runs.
/// </summary>
public sealed class PipeDispatcherFuzzTests
{
    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    [Fact]
    public async Task Dispatch_HundredThousandHostileRequests_EveryOneAnsweredNothingInvalidStoredProcessAlive()
    {
        var cases = Setting("APPROVALBOT_FUZZ_CASES", 100_000);
        var seed = Setting("APPROVALBOT_FUZZ_SEED", 20261122);
        using var dir = new TempDirectory();
        await using var host = await HostProcess.StartAsync(dir.Path);
        var fuzzer = new PipeFuzzer(seed);
        var stored = new HashSet<string>(StringComparer.Ordinal);
        var answered = 0;
        var errors = new Dictionary<string, int>(StringComparer.Ordinal);
        long peakRss = 0;

        var connection = await Connect(host.PipeName);
        for (var i = 0; i < cases; i++)
        {
            var fuzz = fuzzer.Next();
            await connection.Stream.WriteAsync(fuzz.Line);
            await connection.Stream.WriteAsync("\n"u8.ToArray());
            var line = await connection.Reader.ReadLineAsync();
            Assert.True(line is not null, $"case {i} ({fuzz.Strategy}) got no answer");
            var response = PipeClient.ParseResponse(line);
            answered++;
            var validId = SubmitOracle.ValidSubmitId(fuzz.Line);
            if (response.Receipt is { } receipt)
            {
                if (validId != receipt.Id) Assert.Fail($"case {i} ({fuzz.Strategy}) stored '{receipt.Id}' from an invalid request: {Show(fuzz.Line)}");
                if (!receipt.Duplicate) stored.Add(receipt.Id);
            }
            else if (validId is not null)
            {
                if (response.Error?.Code != ErrorCodes.Conflict) Assert.Fail($"case {i} ({fuzz.Strategy}) refused a valid submit with {response.Error?.Code} {response.Error?.Message}: {Show(fuzz.Line)}");
            }
            if (response.Error?.Code == ErrorCodes.TooLarge)
            {
                // The service closes a connection after too_large, by contract: open a new one.
                connection.Dispose();
                connection = await Connect(host.PipeName);
            }
            if (!response.Ok)
            {
                Assert.Contains(response.Error!.Code, (string[])[ErrorCodes.BadRequest, ErrorCodes.TooLarge, ErrorCodes.UnknownOp, ErrorCodes.Invalid, ErrorCodes.UnknownKind, ErrorCodes.NotFound, ErrorCodes.Conflict]);
                Assert.NotEqual(ErrorCodes.Internal, response.Error.Code);
                errors[response.Error.Code] = errors.GetValueOrDefault(response.Error.Code) + 1;
            }
            if (i % 5000 == 0)
            {
                peakRss = Math.Max(peakRss, host.ResidentBytes);
            }
        }
        connection.Dispose();

        Assert.False(host.HasExited);
        Assert.Equal(cases, answered);
        Assert.True(peakRss < 400L * 1024 * 1024, $"resident memory reached {peakRss / (1024 * 1024)} MiB");
        await using var client = await host.ConnectAsync();
        Assert.True((await client.PingAsync()).Ok);
        Assert.Equal(stored.Count, CountDrafts(dir.Path));
        foreach (var id in stored.Take(500))
        {
            Assert.True((await client.GetAsync(id)).Ok);
        }
        Assert.True(errors.GetValueOrDefault(ErrorCodes.BadRequest) > 0 && errors.GetValueOrDefault(ErrorCodes.Invalid) > 0);
    }

    private static string Show(byte[] line)
    {
        var text = System.Text.Encoding.UTF8.GetString(line);
        return text.Length <= 300 ? text : text[..300] + "…";
    }

    private static long CountDrafts(string dataDirectory)
    {
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDirectory, "approvals.db")};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM drafts";
        return (long)cmd.ExecuteScalar()!;
    }

    private sealed record Connection(Socket Socket, NetworkStream Stream, StreamReader Reader) : IDisposable
    {
        public void Dispose()
        {
            Reader.Dispose();
            Stream.Dispose();
            Socket.Dispose();
        }
    }

    private static async Task<Connection> Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        var stream = new NetworkStream(socket, ownsSocket: false);
        return new Connection(socket, stream, new StreamReader(stream, System.Text.Encoding.UTF8, false, 1 << 16, leaveOpen: true));
    }
}
