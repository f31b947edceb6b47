namespace ApprovalBot.Tests.Infrastructure;

/// <summary>
/// The service's program in a folder of its own, beside a config/appsettings.json of the test's: the runtime takes the
/// folder of the program's real path as the application's, so the program is copied and the rest of the build linked.
/// </summary>
internal static class ProgramCopy
{
    /// <returns>The program to run with <c>dotnet</c>, and the path of its configuration file.</returns>
    public static (string Program, string Settings) Create(string folder, string appsettings)
    {
        Directory.CreateDirectory(Path.Combine(folder, "config"));
        foreach (var entry in Directory.GetFileSystemEntries(AppContext.BaseDirectory))
        {
            var name = Path.GetFileName(entry);
            var link = Path.Combine(folder, name);
            if (name == "ApprovalBot.dll") File.Copy(entry, link);
            else if (Directory.Exists(entry) && name != "config") Directory.CreateSymbolicLink(link, entry);
            else if (File.Exists(entry)) File.CreateSymbolicLink(link, entry);
        }
        var settings = Path.Combine(folder, "config", "appsettings.json");
        File.WriteAllText(settings, appsettings);
        return (Path.Combine(folder, "ApprovalBot.dll"), settings);
    }
}
