namespace Functional.AD.Torch;

// The Torch column of the reduction vocabulary (Primitives/Prims.Reductions.cs): its composites are rewritten into the
// core reductions as the graph is built, so they reach the Torch compiler as those (libtorch's sum, amax, logsumexp,
// argmax); an entry here only says so.
internal static partial class Lowerings
{
    /// <summary>The entries of the reduction vocabulary: one per composite, never reached.</summary>
    static IEnumerable<KeyValuePair<Primitive, TorchLowering>> ReductionVocabulary =>
        Prims.Composites.Select(p => new KeyValuePair<Primitive, TorchLowering>(p, new Structural(
            $"rewritten into the core reductions when read (Prims.Reductions.cs); never in a graph",
            (c, n, _, _) => throw new InvalidOperationException($"Internal error: the composite {n.Op.Name} reached the Torch compiler; it is rewritten when the graph is built."))));
}
