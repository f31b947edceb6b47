using System.Globalization;

namespace ApprovalBot.Reconciliation;

/// <summary>
/// One report's gaps as the finder meets them: the first <c>limit</c> of each gap class are listed, in the order met; the
/// rest are counted, and each class that had more gets one item saying how many (the class's <c>more</c> gap), so a
/// report and the escalations it feeds stay bounded without a gap going unsaid.
/// </summary>
internal sealed class GapListing(string report, int limit)
{
    private readonly List<Gap> _listed = [];
    private readonly Dictionary<string, int> _listedPerClass = new(StringComparer.Ordinal);

    // In the order the classes first overflowed, so a report's "more" items come out in a stable order.
    private readonly List<string> _overflowed = [];
    private readonly Dictionary<string, (long Count, DateTimeOffset Oldest)> _notListed = new(StringComparer.Ordinal);

    public void Add(Gap gap)
    {
        var listed = _listedPerClass.GetValueOrDefault(gap.Name);
        if (listed < limit)
        {
            _listed.Add(gap);
            _listedPerClass[gap.Name] = listed + 1;
            return;
        }
        AddNotListed(gap.Name, 1, gap.Since);
    }

    /// <summary>Gaps of a class counted by the store rather than met one by one (beyond a query's limit).</summary>
    public void AddNotListed(string name, long count, DateTimeOffset oldest)
    {
        if (count <= 0)
        {
            return;
        }
        if (_notListed.TryGetValue(name, out var known))
        {
            _notListed[name] = (known.Count + count, oldest < known.Oldest ? oldest : known.Oldest);
            return;
        }
        _overflowed.Add(name);
        _notListed[name] = (count, oldest);
    }

    /// <summary>The listed gaps in the order met, then one <c>more</c> gap per class that had more than the limit.</summary>
    public List<Gap> ToList() => [.. _listed, .. _overflowed.Select(name => More(name, _notListed[name].Count, _notListed[name].Oldest))];

    /// <summary>
    /// What stands for the gaps of one class beyond the limit. Its key stays the same while the class overflows, so it is
    /// escalated once and then reminded like any gap (with the count as it is then), and it closes once the class fits.
    /// </summary>
    private Gap More(string name, long count, DateTimeOffset oldest) =>
        new(report, name, null, null, null, null, oldest,
            $"{count.ToString(CultureInfo.InvariantCulture)} more {name} not listed: a report lists {limit.ToString(CultureInfo.InvariantCulture)} of each gap class")
        {
            Key = $"{report}:{name}:more",
            NotListed = count,
        };
}
