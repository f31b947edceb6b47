namespace ApprovalBot.Benchmarks;

/// <summary>
/// Least-squares line through (x, y) points: the slope, its standard error and R². The soak fits each metric over
/// the second half of its samples (after warm-up), x in hours, so the slope reads as growth per hour.
/// </summary>
internal readonly record struct LinearFit(double Slope, double StandardError, double RSquared, int Count)
{
    public static LinearFit Of(IReadOnlyList<(double X, double Y)> points)
    {
        var n = points.Count;
        if (n < 3) return new LinearFit(double.NaN, double.NaN, double.NaN, n);
        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        double sxx = 0, sxy = 0, syy = 0;
        foreach (var (x, y) in points)
        {
            sxx += (x - mx) * (x - mx);
            sxy += (x - mx) * (y - my);
            syy += (y - my) * (y - my);
        }
        if (sxx == 0) return new LinearFit(double.NaN, double.NaN, double.NaN, n);
        var slope = sxy / sxx;
        var residual = Math.Max(0, syy - slope * sxy);
        var se = Math.Sqrt(residual / (n - 2) / sxx);
        var r2 = syy == 0 ? 1 : 1 - residual / syy;
        return new LinearFit(slope, se, r2, n);
    }

    /// <summary>Upper end of an approximate 95% interval of the slope (two standard errors).</summary>
    public double Upper => Slope + 2 * StandardError;

    /// <summary>Lower end of an approximate 95% interval of the slope.</summary>
    public double Lower => Slope - 2 * StandardError;
}
