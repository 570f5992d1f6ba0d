using FsCheck;
using FsCheck.Fluent;

namespace Functional.AD.Testing;

/// <summary>Where a primitive's inputs must lie for its derivative to exist and be checked by finite differences.</summary>
/// <example><code>
/// var logInputs = Gens.Tensor([2, 3], DType.Float64, Domain.Positive);   // values in [0.2, 3] for Log
/// </code></example>
public enum Domain
{
    /// <summary>Uniform in [-2, 2].</summary>
    Any,
    /// <summary>Uniform in [0.2, 3] (logarithms, square roots, powers).</summary>
    Positive,
    /// <summary>|x| in [0.2, 2] with either sign: away from the kink of abs, relu and sign.</summary>
    AwayFromZero,
    /// <summary>Uniform in [-0.9, 0.9].</summary>
    Unit,
}

/// <summary>
/// FsCheck generators of shapes and tensors for testing differentiable functions: ranks from 0, axes of size 1,
/// and pairs of shapes that broadcast against each other.
/// </summary>
/// <example><code>
/// Prop.ForAll(Gens.Tensor(DType.Float64, Domain.Positive, minRank: 1).ToArbitrary(),
///             x =&gt; GradCheck.Check((Expression&lt;Func&lt;Tensor, Tensor&gt;&gt;)(v =&gt; Np.Sum(Np.Log(v))), x).Ok);
/// </code></example>
public static class Gens
{
    /// <summary>A shape of rank <paramref name="minRank"/>..<paramref name="maxRank"/> with axes of size 1..<paramref name="maxDim"/> (size 1 often).</summary>
    public static Gen<int[]> Shape(int minRank = 0, int maxRank = 3, int maxDim = 4) =>
        Gen.Choose(minRank, maxRank).SelectMany(r => Gen.Frequency((1, Gen.Constant(1)), (3, Gen.Choose(1, maxDim))).ArrayOf(r));

    /// <summary>Two shapes that broadcast together numpy-style: one is a suffix of the other with some axes set to 1, in either order.</summary>
    public static Gen<(int[] A, int[] B)> BroadcastPair(int maxRank = 3, int maxDim = 4) =>
        from s in Shape(0, maxRank, maxDim)
        from drop in Gen.Choose(0, s.Length)
        from ones in Gen.Choose(0, 1).ArrayOf(s.Length)
        from swap in Gen.Elements(false, true)
        let t = s.Skip(drop).Select((d, i) => ones[i + drop] == 1 ? 1 : d).ToArray()
        select swap ? (t, s) : (s, t);

    /// <summary>A double in the domain.</summary>
    public static Gen<double> Value(Domain d) => Gen.Choose(0, 1_000_000).Select(i => i / 1e6).SelectMany(u => d switch
    {
        Domain.Positive => Gen.Constant(0.2 + 2.8 * u),
        Domain.AwayFromZero => Gen.Elements(-1.0, 1.0).Select(s => s * (0.2 + 1.8 * u)),
        Domain.Unit => Gen.Constant(-0.9 + 1.8 * u),
        _ => Gen.Constant(-2 + 4 * u),
    });

    /// <summary>A tensor of the given shape and dtype with values in the domain.</summary>
    public static Gen<Tensor> Tensor(int[] shape, DType dtype = DType.Float64, Domain d = Domain.Any) =>
        Value(d).ArrayOf(shape.Aggregate(1, (a, b) => a * b)).Select(v => new Tensor(v, shape).AsType(dtype));

    /// <summary>A tensor of random shape (rank 0..3).</summary>
    public static Gen<Tensor> Tensor(DType dtype = DType.Float64, Domain d = Domain.Any, int minRank = 0, int maxRank = 3) =>
        Shape(minRank, maxRank).SelectMany(s => Tensor(s, dtype, d));

    /// <summary>A tensor whose values are pairwise at least 0.1 apart (no ties: max, argmax and sorting are differentiable there).</summary>
    public static Gen<Tensor> DistinctTensor(int[] shape, DType dtype = DType.Float64) =>
        from perm in Gen.Shuffle(Enumerable.Range(0, Math.Max(1, shape.Aggregate(1, (a, b) => a * b))).ToArray())
        from offset in Value(Domain.Unit)
        let n = shape.Aggregate(1, (a, b) => a * b)
        select new Tensor(perm.Take(n).Select(p => 0.3 * p - 1 + 0.05 * offset).ToArray(), shape).AsType(dtype);

    /// <summary>Two tensors of broadcasting shapes.</summary>
    public static Gen<Tensor[]> BroadcastingPair(DType dtype = DType.Float64, Domain da = Domain.Any, Domain db = Domain.Any) =>
        from s in BroadcastPair()
        from a in Tensor(s.A, dtype, da)
        from b in Tensor(s.B, dtype, db)
        select new[] { a, b };

    /// <summary>Random weights of the given shape in [-1, 1] (for random scalar projections <c>Sum(f(x) * w)</c>).</summary>
    public static Tensor Weights(IReadOnlyList<int> shape, DType dtype, int seed)
    {
        var rng = new Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), shape.ToArray()).AsType(dtype);
    }
}
