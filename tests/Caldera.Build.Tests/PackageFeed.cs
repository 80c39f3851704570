namespace Caldera.Build.Tests;

/// <summary>
/// Packs Caldera.Runtime, Caldera.Build and the caldera tool (Caldera.Cli) once per test run into a folder feed inside a fresh temporary root
/// (outside the repository, so no Directory.Build.props of ours applies), and writes that root's nuget.config:
/// Caldera.* only from the fresh feed, restored into a packages folder of its own, so a re-pack of the same
/// version is never served stale from ~/.nuget/packages; everything else from ~/.nuget/packages (fast, offline)
/// or nuget.org.
/// </summary>
public sealed class PackageFeed : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "caldera-build-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public string Feed => Path.Combine(Root, "feed");

    public PackageFeed()
    {
        Directory.CreateDirectory(Feed);
        // Stop MSBuild's upward search for Directory.Build.* here.
        File.WriteAllText(Path.Combine(Root, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(Root, "Directory.Build.targets"), "<Project />\n");
        string userPackages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Path.Combine(Root, "packages")}" />
              </config>
              <packageSources>
                <clear />
                <add key="caldera-fresh" value="{Feed}" />
                <add key="user-cache" value="{userPackages}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="caldera-fresh"><package pattern="Caldera.*" /></packageSource>
                <packageSource key="user-cache"><package pattern="*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        foreach (string project in new[] { "Caldera.Runtime", "Caldera.Build", "Caldera.Cli" })
        {
            var pack = DotNet.Run(TestPaths.RepoRoot, "pack", Path.Combine("src", project), "-c", TestPaths.Configuration, "-o", Feed, "-nodeReuse:false");
            if (pack.ExitCode != 0) throw new InvalidOperationException($"dotnet pack {project} failed: {pack}");
        }
    }

    /// <summary>A new, empty project folder under <see cref="Root"/>.</summary>
    internal TestProject CreateProject(string name, string calderaItems, string program = "System.Console.WriteLine(\"built\");") =>
        TestProject.Create(Path.Combine(Root, name), calderaItems, program);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { /* a process still holds a file; the OS cleans the temp folder */ }
    }
}

[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "Packed Caldera.Build";
}
