namespace Caldera.Build.Tests;

/// <summary>
/// A NativeAOT publish through Caldera.Build targets x86-64-v3 on x64 unless the project names its own instruction
/// set: NativeAOT's own default, x86-64-v1, runs every vector kernel's scalar fallback. Evaluation only (msbuild
/// -getProperty after a restore), so no native compile runs.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class InstructionSetDefaultTests(PackageFeed feed)
{
    [Fact]
    public void An_x64_native_aot_publish_targets_x86_64_v3_unless_the_project_names_an_instruction_set()
    {
        var project = feed.CreateProject("isa-app", "");
        var restore = DotNet.Run(project.Directory, "restore", "-nodeReuse:false");
        Assert.True(restore.ExitCode == 0, restore.ToString());

        Assert.Equal("x86-64-v3", InstructionSet(project, "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64"));
        // At that baseline a Linux publish also carries the x86-64-v4 variant (InstructionSetVariantTests), unless told not to.
        Assert.Equal("true", Property(project, "_CalderaPublishesVariant", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64"));
        Assert.Equal("", Property(project, "_CalderaPublishesVariant", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64", "-p:CalderaInstructionSetVariant=false"));
        Assert.Equal("", Property(project, "_CalderaPublishesVariant", "-p:PublishAot=true", "-p:RuntimeIdentifier=win-x64"));
        // Arm keeps NativeAOT's baseline (Armv8.0-A, the dot product checked at run time: README, "Arm").
        Assert.Equal("", InstructionSet(project, "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-arm64"));
        // Not a NativeAOT publish: the JIT picks the instruction sets on the machine that runs the app.
        Assert.Equal("", InstructionSet(project, "-p:RuntimeIdentifier=linux-x64"));

        // The project's own choice, in its body as a user writes it, stays.
        File.WriteAllText(project.ProjectFile, File.ReadAllText(project.ProjectFile)
            .Replace("<OutputType>Exe</OutputType>", "<OutputType>Exe</OutputType><IlcInstructionSet>x86-64-v4</IlcInstructionSet>", StringComparison.Ordinal));
        Assert.Equal("x86-64-v4", InstructionSet(project, "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64"));
        Assert.Equal("", Property(project, "_CalderaPublishesVariant", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64"));
    }

    private static string InstructionSet(TestProject project, params string[] properties) => Property(project, "IlcInstructionSet", properties);

    private static string Property(TestProject project, string name, params string[] properties)
    {
        var result = DotNet.Run(project.Directory, ["msbuild", project.ProjectFile, $"-getProperty:{name}", "-nodeReuse:false", .. properties]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Output.Trim();
    }
}
