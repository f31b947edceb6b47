using System.ComponentModel;
using ApprovalBot.Tests.Infrastructure;

namespace ApprovalBot.Tests.Reliability;

/// <summary>The LD_PRELOAD shims of <c>Reliability/Native</c>, compiled with gcc for the test that needs one.</summary>
internal static class NativeShim
{
    /// <summary>
    /// Compiles <c>Native/&lt;source&gt;</c> to <paramref name="output"/>. Fails (does not skip) when gcc is missing, naming
    /// <paramref name="purpose"/>, the test that needs it.
    /// </summary>
    public static async Task BuildAsync(string source, string output, string purpose)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Reliability", "Native", source);
        Assert.True(File.Exists(path), $"{path} is missing from the test output (see the <None Include> of Reliability/Native in ApprovalBot.Tests.csproj)");
        try
        {
            await ChildProcess.RunToEndAsync("gcc", ["-shared", "-fPIC", "-O2", "-Wall", "-o", output, path, "-ldl"]);
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException(
                $"The {purpose} needs gcc to build its LD_PRELOAD shim (Reliability/Native/{source}), and gcc was not found: " +
                "install it (apt-get install gcc; .ci/run does this on a fresh Debian machine).", ex);
        }
    }
}
