using System.Security.Cryptography;
using System.Text;

namespace ApprovalBot.Execution;

internal static class IdempotencyKey
{
    /// <summary>
    /// Derived from the draft id and the approved text's hash only, so every attempt, retry and restart of the
    /// same approval carries the same key, and a different text under the same id could never share it.
    /// </summary>
    public static string For(string draftId, string approvedSha256) =>
        "ab1-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(draftId + "\n" + approvedSha256)))[..40];
}
