namespace ApprovalBot.Benchmarks;

/// <summary>The machine's load, printed beside figures that other work on the shared cores moves.</summary>
internal static class MachineLoad
{
    /// <summary>The 1, 5 and 15 minute load averages, or "n/a" where /proc/loadavg is missing.</summary>
    public static string Average() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
