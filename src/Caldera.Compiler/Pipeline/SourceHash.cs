using System.Security.Cryptography;

namespace Caldera.Compiler.Pipeline;

/// <summary>SHA-256 of a source checkpoint: a file's bytes, or a directory's files concatenated in ordinal name order.</summary>
internal static class SourceHash
{
    public static string Of(string path)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        IEnumerable<string> files = Directory.Exists(path)
            ? Directory.GetFiles(path).OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
            : [path];
        var buffer = new byte[1 << 20];
        foreach (string file in files)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
