namespace Caldera.Build.Tests;

/// <summary>A console project whose only Caldera reference is the Caldera.Build package, plus its <c>&lt;CalderaModel&gt;</c> items.</summary>
internal sealed class TestProject
{
    public const string TargetFramework = "net10.0";

    private TestProject(string directory, string name)
    {
        Directory = directory;
        Name = name;
    }

    public string Directory { get; }

    public string Name { get; }

    public string ProjectFile => Path.Combine(Directory, Name + ".csproj");

    /// <summary>obj/&lt;configuration&gt;/net10.0/caldera/, where the compiled models go.</summary>
    public string CalderaOutput(string configuration = "Debug") => Path.Combine(Directory, "obj", configuration, TargetFramework, "caldera");

    public static TestProject Create(string directory, string calderaItems, string program)
    {
        System.IO.Directory.CreateDirectory(directory);
        var project = new TestProject(directory, Path.GetFileName(directory));
        project.WriteProjectFile(calderaItems);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), program);
        return project;
    }

    public void WriteProjectFile(string calderaItems) => File.WriteAllText(ProjectFile, $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>{TargetFramework}</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>enable</ImplicitUsings>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="Caldera.Build" Version="0.1.0" />
          </ItemGroup>
          <ItemGroup>
            {calderaItems}
          </ItemGroup>
        </Project>
        """);

    public DotNet.Result Build(params string[] extra) => DotNet.Run(Directory, ["build", "-nodeReuse:false", .. extra]);

    public DotNet.Result Publish(params string[] extra) => DotNet.Run(Directory, ["publish", "-nodeReuse:false", .. extra]);
}
