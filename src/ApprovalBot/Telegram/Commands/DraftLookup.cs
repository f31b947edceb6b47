using System.Globalization;
using ApprovalBot.Drafts;
using ApprovalBot.Telegram.Cards;

namespace ApprovalBot.Telegram.Commands;

/// <summary>How a command names one draft (/status, /card): by its id, or by <c>#seq</c> as cards and escalations show it.</summary>
internal static class DraftLookup
{
    public static Draft? Find(DraftStore store, string key) =>
        key.StartsWith('#') && long.TryParse(key[1..], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? store.GetBySeq(seq)
            : store.Get(key);

    /// <summary>The reply, in HTML, to a key no stored draft has; the same for every command, so it names no command's own outcome.</summary>
    public static string NotFound(string key) =>
        new HtmlText().Text("No draft ").Code(HtmlText.Shorten(key, 200)).Text(" in the store. /pending lists the drafts awaiting a decision.").ToString();
}
