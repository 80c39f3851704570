using System.Text;
using Caldera.Common;

namespace Caldera.Build.Tasks;

/// <summary>
/// A file the compile task keeps between builds for a step it may skip or resume (the undistilled model, a
/// distillation checkpoint), beside <c>&lt;file&gt;.key</c>: what the step was run with. The target's
/// <c>Inputs</c>/<c>Outputs</c> decide per item whether anything runs; this decides per step, so that changing only a
/// distill setting does not compress again, and a resumed distillation never goes on from another run's state.
/// </summary>
internal static class IntermediateOutput
{
    /// <summary>True when <paramref name="path"/> was made with <paramref name="key"/> after every one of <paramref name="sources"/> last changed.</summary>
    public static bool IsCurrent(string path, string key, IEnumerable<string> sources)
    {
        string keyPath = KeyPath(path);
        if (!File.Exists(path) || !File.Exists(keyPath) || File.ReadAllText(keyPath, Encoding.UTF8) != key) return false;
        var made = File.GetLastWriteTimeUtc(path);
        return sources.All(source => File.GetLastWriteTimeUtc(source) < made);
    }

    /// <summary>Records that <paramref name="path"/> is (or is about to be) made with <paramref name="key"/>.</summary>
    public static void Record(string path, string key) =>
        AtomicFile.WriteAllBytes(KeyPath(path), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(key));

    /// <summary>Removes <paramref name="path"/> and its key, so that no later build takes it for current.</summary>
    public static void Forget(string path)
    {
        File.Delete(KeyPath(path));
        File.Delete(path);
    }

    private static string KeyPath(string path) => path + ".key";
}
