using System.Diagnostics;

namespace ApprovalBot.Benchmarks;

/// <summary>Latency samples in milliseconds; percentiles by nearest rank over the sorted samples.</summary>
internal sealed class Samples
{
    private readonly List<double> _ms = [];
    private readonly Lock _lock = new();

    public int Count => _ms.Count;

    public void Add(double ms)
    {
        lock (_lock)
        {
            _ms.Add(ms);
        }
    }

    public void AddTicks(long stopwatchTicks) => Add(stopwatchTicks * 1000.0 / Stopwatch.Frequency);

    public void AddAll(Samples other)
    {
        lock (_lock)
        {
            _ms.AddRange(other._ms);
        }
    }

    public double Percentile(double p)
    {
        lock (_lock)
        {
            if (_ms.Count == 0) return double.NaN;
            var sorted = _ms.Order().ToArray();
            var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
            return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
        }
    }

    public double P50 => Percentile(50);

    public double P99 => Percentile(99);

    public double Max => Percentile(100);
}

internal static class Ms
{
    public static double Since(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;

    public static string F(double ms) => double.IsNaN(ms) ? "n/a" : ms < 10 ? ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : ms.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
