using System.Reflection;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.CompilerServices;
using ConfigKeys = Caldera.Common.ModelDescriptionSchema.ConfigKeys;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// Finds the <c>.cald</c> bytes of a generated model class and opens them in place: an explicit file
/// (<see cref="CalderaModelOptions.ModelPath"/>), the embedded resource, or the executable's trailer with a file
/// beside the app as the fallback of an unpublished build. Then checks that they are the model the class was
/// generated for (length, checksum, architecture, every matrix shape), so a stale or swapped blob is a clear
/// <see cref="ModelFormatException"/> at startup rather than wrong text later. The checksum of every byte is computed
/// beside the first generation (<see cref="CaldFile.Open(ByteSource, bool, Action{TokenizerPayload, string})"/>), which does not wait for it: a corrupt
/// blob fails each generation with that error, the first one by its end at the latest.
/// </summary>
internal static class CalderaModelSource
{
    /// <remarks>
    /// <paramref name="tokenizerRead"/> receives the tokenizer's payload and the source's name (the file's path, or which
    /// resource or trailer entry) as soon as the manifest is parsed (<see cref="CaldManifestReader.Read"/>), before the file is checked against the class.
    /// </remarks>
    public static CaldFile Open(Assembly assembly, CalderaModelDescription description, CalderaModelOptions? options = null,
        Action<TokenizerPayload, string>? tokenizerRead = null)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(description);
        var file = options?.ModelPath is { } path ? CaldFile.Open(path, checksumInBackground: true, tokenizerRead)
            : description.Storage == CalderaStorage.Resource ? OpenResource(assembly, description, tokenizerRead)
            : OpenTrailer(description, tokenizerRead);
        try
        {
            Verify(file, description);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static CaldFile OpenResource(Assembly assembly, CalderaModelDescription d, Action<TokenizerPayload, string>? tokenizerRead)
    {
        string name = $"resource {d.ResourceName} in {assembly.GetName().Name}";
        var stream = assembly.GetManifestResourceStream(d.ResourceName) ?? throw new ModelFormatException(name,
            $"is missing: the build did not embed model {d.Name}; check its <CalderaModel> item (Storage) and rebuild");
        if (stream is not UnmanagedMemoryStream unmanaged)
        {
            stream.Dispose();
            throw new ModelFormatException(name, "is not an in-memory resource stream, so it cannot be read in place; load the model from a file with CalderaModelOptions.ModelPath");
        }
        return CaldFile.Open(UnmanagedBytes.From(unmanaged, name), checksumInBackground: true, tokenizerRead);
    }

    private static CaldFile OpenTrailer(CalderaModelDescription d, Action<TokenizerPayload, string>? tokenizerRead)
    {
        string? executable = InstructionSetVariant.Executable;
        if (executable != null && CalderaTrailer.Find(executable, d.Name) is { } entry)
            return CaldFile.Open(MappedFile.Open(executable, entry.Offset, entry.Length, $"trailer entry {d.Name} of {executable}"), checksumInBackground: true, tokenizerRead);
        string beside = Path.Combine(AppContext.BaseDirectory, d.FileName);
        if (File.Exists(beside)) return CaldFile.Open(beside, checksumInBackground: true, tokenizerRead);
        throw new ModelFormatException(executable ?? "this process",
            $"model {d.Name} is neither in the executable's trailer nor in {beside}; publish with the Caldera.Build targets (they append it) or copy {d.FileName} beside the app");
    }

    private static void Verify(CaldFile file, CalderaModelDescription d)
    {
        if (file.Length != d.FileLength || file.Checksum != d.Checksum)
            throw new ModelFormatException(file.Path,
                $"is not the model class {d.Name} was generated for ({file.Length} bytes, checksum {file.Checksum:x16}; expected {d.FileLength} bytes, checksum {d.Checksum:x16}); rebuild the app so that the class and the model match");
        var c = file.Content.Config;
        (string Setting, int Actual, int Expected)[] settings =
        [
            (ConfigKeys.Dim, c.Dim, d.Dim), (ConfigKeys.HiddenDim, c.HiddenDim, d.HiddenDim), (ConfigKeys.Layers, c.LayerCount, d.LayerCount),
            (ConfigKeys.Heads, c.HeadCount, d.HeadCount), (ConfigKeys.KvHeads, c.KvHeadCount, d.KvHeadCount), (ConfigKeys.HeadDim, c.HeadDim, d.HeadDim),
            (ConfigKeys.VocabSize, c.VocabSize, d.VocabSize), (ConfigKeys.ContextLength, c.ContextLength, d.ContextLength),
            (ConfigKeys.TiedClassifier, c.TiedClassifier ? 1 : 0, d.TiedClassifier ? 1 : 0),
        ];
        foreach (var (setting, actual, expected) in settings)
            if (actual != expected)
                throw ModelFormatException.ForSetting(file.Path, setting, $"is {actual} but class {d.Name} was generated for {expected}; rebuild the app");
        var matrices = file.Content.Matrices.ToDictionary(m => m.Name, StringComparer.Ordinal);
        foreach (var shape in d.Matrices)
        {
            if (!matrices.TryGetValue(shape.Name, out var m))
                throw ModelFormatException.ForTensor(file.Path, shape.Name, $"is not compressed in this file but class {d.Name} was generated for it; rebuild the app");
            if (m.Rows != shape.Rows || m.Columns != shape.Columns || m.Rank != shape.Rank)
                throw ModelFormatException.ForTensor(file.Path, shape.Name,
                    $"is {m.Rows}×{m.Columns} rank {m.Rank} but class {d.Name} was generated for {shape.Rows}×{shape.Columns} rank {shape.Rank}; rebuild the app");
        }
    }
}
