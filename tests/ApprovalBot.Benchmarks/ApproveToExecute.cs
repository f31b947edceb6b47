using System.Globalization;
using ApprovalBot.Client;
using ApprovalBot.Sandbox;

namespace ApprovalBot.Benchmarks;

/// <summary>
/// From the approver's tap in the Bot API sandbox to the <c>command</c> route's process starting. The host is
/// the real service (child process) configured against a sandbox in this process, as a real bot would be; the
/// route is a shell script whose first action records the wall clock (ns), compared with the wall clock read
/// just before the tap is queued in the sandbox for the host's long poll.
/// </summary>
internal static class ApproveToExecute
{
    private const string Script = """
        #!/bin/sh
        t=$(date +%s%N)
        cat > /dev/null
        printf '%s' "$t" > "$1/$APPROVAL_ID.tmp" && mv "$1/$APPROVAL_ID.tmp" "$1/$APPROVAL_ID.start"
        echo ok
        """;

    public static async Task<Samples> RunAsync(string dataDirectory, int warmup, int count)
    {
        var routeDir = Path.Combine(dataDirectory, "route");
        Directory.CreateDirectory(routeDir);
        var script = Path.Combine(routeDir, "route.sh");
        File.WriteAllText(script, Script.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        await using var sandbox = await SandboxServer.StartAsync(new SandboxSettings { Url = "http://127.0.0.1:0", RateLimits = false });
        var hostData = Path.Combine(dataDirectory, "host");
        Directory.CreateDirectory(hostData);
        await using var host = await HostUnderTest.StartAsync(hostData,
        [
            .. HostUnderTest.SandboxTelegram(sandbox),
            "ApprovalBot:Kinds:reply:Executor:Type=command",
            $"ApprovalBot:Kinds:reply:Executor:Command:0={script}",
            $"ApprovalBot:Kinds:reply:Executor:Command:1={routeDir}",
            "ApprovalBot:Kinds:reply:Executor:Idempotent=true",
        ]);

        var total = warmup + count;
        var ids = Enumerable.Range(0, total).Select(i => $"reply:approve:{i}").ToList();
        await using (var agent = await host.ConnectAsync())
        {
            foreach (var id in ids)
            {
                var response = await agent.SubmitAsync(PipeLoad.Draft(id));
                if (!response.Ok) throw new InvalidOperationException($"submit {id}: {response.Error?.Message}");
            }
        }
        var wait = TimeSpan.FromSeconds(30);
        var samples = new Samples();
        for (var i = 0; i < total; i++)
        {
            var id = ids[i];
            var card = await sandbox.Control.WaitForMessageAsync(
                m => m.Text is { } t && t.Contains(id, StringComparison.Ordinal) && m.Versions[0].Buttons.Count > 0, wait);
            var approve = card.AllButtons.Single(b => b.Text.Contains("Approve", StringComparison.Ordinal)).CallbackData!;
            var startFile = Path.Combine(routeDir, id + ".start");
            var tapNs = UnixNanoseconds(DateTime.UtcNow);
            sandbox.Control.PressButton(card.MessageId, approve, sandbox.Settings.ApproverId);
            var deadline = DateTime.UtcNow + wait;
            while (!File.Exists(startFile))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"the route never ran for {id}:\n{host.Tail}");
                await Task.Delay(1);
            }
            var startedNs = long.Parse(File.ReadAllText(startFile), CultureInfo.InvariantCulture);
            if (i >= warmup) samples.Add((startedNs - tapNs) / 1e6);
            // Let the execution finish (executed) before the next tap, so taps do not queue behind each other.
            await WaitExecutedAsync(host, id, wait);
        }
        return samples;
    }

    private static long UnixNanoseconds(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private static async Task WaitExecutedAsync(HostUnderTest host, string id, TimeSpan wait)
    {
        await using var client = await host.ConnectAsync();
        var response = await client.WaitAsync(id, (int)wait.TotalMilliseconds);
        var deadline = DateTime.UtcNow + wait;
        while (response.Draft?.State is "approved" or "executing" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
            response = await client.GetAsync(id);
        }
    }
}
