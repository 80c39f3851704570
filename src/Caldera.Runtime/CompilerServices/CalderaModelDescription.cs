using System.ComponentModel;

namespace Caldera.CompilerServices;

/// <summary>
/// What a build baked into a generated model class (from its <c>&lt;Name&gt;.model.json</c>): where the
/// <c>.cald</c> lives, the checksum that identifies it, and the shapes the generated kernels were specialised for.
/// <see cref="CalderaModelSource"/> finds the bytes and checks them against it at startup.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record CalderaModelDescription
{
    /// <summary>The generated class's name; also the model's trailer entry name.</summary>
    public required string Name { get; init; }

    public required CalderaStorage Storage { get; init; }

    /// <summary>The embedded resource's logical name (resource storage).</summary>
    public required string ResourceName { get; init; }

    /// <summary>The <c>.cald</c> file name looked for beside the app when there is no trailer (an unpublished build).</summary>
    public required string FileName { get; init; }

    public required long FileLength { get; init; }

    /// <summary>The <c>.cald</c> header's XxHash3-64.</summary>
    public required ulong Checksum { get; init; }

    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int KvHeadCount { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public required bool TiedClassifier { get; init; }

    public required IReadOnlyList<MatrixShape> Matrices { get; init; }
}
