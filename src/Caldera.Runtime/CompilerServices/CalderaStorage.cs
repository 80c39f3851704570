using System.ComponentModel;

namespace Caldera.CompilerServices;

/// <summary>Where a build put a model's <c>.cald</c> bytes (docs/build-integration.md, section 3).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public enum CalderaStorage
{
    /// <summary>An embedded resource of the assembly, read in place.</summary>
    Resource,

    /// <summary>Appended to the published executable (or, before publish, a <c>.cald</c> file beside the app).</summary>
    Trailer,
}
