using System.Security.Cryptography;
using System.Text;

namespace ApprovalBot.Benchmarks;

/// <summary>The draft every measurement writes: a reply-sized text (about 200 characters) with its hash.</summary>
internal static class Workload
{
    public const string Text =
        "Thanks for the detailed report! We reproduced the slowdown on 2-core machines and the fix ships on Friday " +
        "with the next patch release; I'll post the benchmark numbers here once it is out. Shout if it helps you.";

    public static readonly string Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Text)));
}
