using System.Security.Cryptography;
using System.Text;

namespace ApprovalBot.Drafts;

internal static class DraftHash
{
    /// <summary>Lowercase hex SHA-256 of the UTF-8 bytes of <paramref name="text"/>: what receipts carry and decisions bind to.</summary>
    public static string Of(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
