using System.Security.Cryptography;
using System.Text;

namespace ApprovalBot.Tests.Infrastructure;

/// <summary>The test's own SHA-256, computed independently of the code under test.</summary>
internal static class Sha
{
    public static string Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
