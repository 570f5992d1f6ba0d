using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;
using static Functional.AD.Properties.BadInputs;
using P = Functional.AD.Properties.CatalogueTypes.P;

namespace Functional.AD.Properties;

/// <summary>Catalogue, tensors: construction, shapes, dtypes, Tree, Optim, Rng and GradCheck.</summary>
public sealed class BadInputCatalogueTensors
{
    static readonly Tensor x3 = V(1, 2, 3);
    static readonly Expression<Func<Tensor, Tensor>> sumSq = x => Sum(x * x);

    public static readonly BadInput[] Cases =
    [
        // ---------------------------------------------------------------- Tensor construction
        Case<ArgumentNullException>("new Tensor((float[])null)", () => new Tensor((float[])null!), "data", "null"),
        Case<ArgumentNullException>("new Tensor((double[])null)", () => new Tensor((double[])null!), "data", "null"),
        Case<ArgumentNullException>("new Tensor((double[,])null)", () => new Tensor((double[,])null!), "data"),
        Case<ArgumentNullException>("new Tensor((float[,])null)", () => new Tensor((float[,])null!), "data"),
        Case<ArgumentNullException>("new Tensor((float[,,])null)", () => new Tensor((float[,,])null!), "data"),
        Case<ArgumentNullException>("new Tensor((double[,,])null)", () => new Tensor((double[,,])null!), "data"),
        Case<ArgumentNullException>("new Tensor(data, null shape)", () => new Tensor(new float[] { 1 }, null!), "shape"),
        Case<ArgumentNullException>("new Tensor(null data, shape)", () => new Tensor((double[])null!, [1]), "data"),
        Case<ArgumentException>("new Tensor with a shape of the wrong size", () => new Tensor(new double[] { 1, 2, 3 }, [2, 2]), "[2,2]", "holds 4 elements", "3"),
        Case<ArgumentException>("new Tensor with a negative dimension", () => new Tensor(new double[] { }, [-1, 0]), "negative dimension"),
        Case<ArgumentNullException>("Tensor.FromArray(null)", () => Tensor.FromArray(null!), "a"),
        Case<ArgumentException>("Tensor.FromArray of strings", () => Tensor.FromArray(new[] { "a" }), "rectangular array of numbers"),
        Case<ArgumentException>("Tensor.FromArray of chars", () => Tensor.FromArray(new[] { 'a' }), "rectangular array of numbers"),
        Case<ArgumentException>("Np.Zeros with a negative dimension", () => Zeros([-2]), "Np.Full", "[-2]", "non-negative"),
        Case<ArgumentException>("Np.Zeros([50000, 50000])", () => Zeros([50000, 50000]), "[50000,50000]", "more than one tensor can hold"),
        Case<ArgumentException>("Np.Ones too large", () => Ones([100000, 100000, 10]), "more than one tensor can hold"),
        Case<ArgumentNullException>("Np.Zeros(null)", () => Zeros(null!), "shape"),
        Case<ArgumentOutOfRangeException>("Np.Zeros with an undefined dtype", () => Zeros([2], (DType)7), "dtype", "Float32"),
        Case<ArgumentException>("Np.Arange with step 0", () => Arange(0, 1, 0), "step must be non-zero"),
        Case<ArgumentException>("Np.Arange with a NaN step", () => Arange(0, 1, double.NaN), "step"),
        Case<ArgumentException>("Np.Arange with too many elements", () => Arange(0, 1e12, 1), "too many elements"),
        Case<ArgumentOutOfRangeException>("AsType to an undefined dtype", () => x3.AsType((DType)42), "dtype", "Float64"),
        Case<ArgumentOutOfRangeException>("Item out of range", () => x3.Item(3), "index 3", "size 3", "-3 .. 2"),
        Case<ArgumentException>("Item with the wrong number of indices", () => x3.Item(0, 0), "takes 1 indices, got 2"),
        Case<ArgumentOutOfRangeException>("Item negative beyond the size", () => x3.Item(-4), "index -4"),

        // ---------------------------------------------------------------- shapes (eager)
        Case<ShapeException>("Add of [2] and [3]", () => V(1, 2) + x3, "float64[2]", "float64[3]"),
        Case<ShapeException>("Dot of [2,3] and [2,3]", () => Dot(M(2, 3), M(2, 3)), "Np.Dot", "float64[2,3]"),
        Case<ShapeException>("MatMul of [2,3] and [2,3]", () => MatMul(M(2, 3), M(2, 3)), "MatMul", "float64[2,3]"),
        Case<ShapeException>("Reshape to a different size", () => Reshape(x3, [2, 2]), "Reshape", "[2,2]"),
        Case<ShapeException>("Reshape with two -1", () => Reshape(M(2, 2), [-1, -1]), "-1"),
        Case<ShapeException>("Sum over axis 1 of a vector", () => Sum(x3, 1), "axis 1", "rank 1", "-1 .. 0"),
        Case<ShapeException>("Mean over axis -2 of a vector", () => Mean(x3, -2), "axis -2"),
        Case<ShapeException>("Max over an axis of a scalar", () => Max(Tensor.Scalar(1, DType.Float64), 0), "rank-0"),
        Case<ShapeException>("Softmax over a bad axis", () => Softmax(x3, 2), "axis 2"),
        Case<ShapeException>("Transpose with a wrong permutation", () => Transpose(M(2, 3), [0, 0]), "Transpose"),
        Case<ShapeException>("Transpose with too few axes", () => Transpose(M(2, 3), [0]), "Transpose"),
        Case<ShapeException>("BroadcastTo an incompatible shape", () => BroadcastTo(x3, [2, 2]), "BroadcastTo", "[2,2]"),
        Case<ShapeException>("Concatenate of different trailing shapes", () => Concatenate([M(2, 3), M(2, 2)], 0), "Concatenate"),
        Case<ShapeException>("Concatenate along a bad axis", () => Concatenate([x3, x3], 1), "axis 1"),
        Case<ShapeException>("Stack of different shapes", () => Stack([x3, V(1, 2)]), "Stack"),
        Case<ShapeException>("Concatenate of nothing", () => Concatenate([], 0), "Concatenate"),
        Case<ShapeException>("Stack of nothing", () => Stack([]), "Stack"),
        Case<ShapeException>("Where with mismatched shapes", () => Where(Greater(x3, 0.0), V(1, 2), x3), "Where"),
        Case<ShapeException>("Take along a bad axis", () => Take(x3, V(0), 1), "axis 1"),
        Case<ArgumentOutOfRangeException>("Take an index out of range", () => Take(x3, V(3)), "index 3", "-3 .. 2"),
        Case<ArgumentException>("Take a fractional index", () => Take(x3, V(1.5)), "integral", "1.5"),
        Case<ArgumentException>("Take a NaN index", () => Take(x3, V(double.NaN)), "integral"),
        Case<ShapeException>("Argmax over a bad axis", () => Argmax(x3, 1), "axis 1"),
        Case<ShapeException>("LogSumExp over a bad axis", () => LogSumExp(x3, 4), "axis 4"),

        // ---------------------------------------------------------------- dtypes
        Case<ShapeException>("float32 [2] plus float64 [3]", () => F(1, 2) + x3, "float32[2]", "float64[3]"),
        Case<ShapeException>("Dot of float32 and float64 with bad shapes", () => Dot(F(1, 2), x3), "float32[2]", "float64[3]"),
        Case<ArgumentOutOfRangeException>("Lax.Cast to an undefined dtype", () => Lax.Cast(x3, (DType)9), "dtype"),
        Case<ArgumentOutOfRangeException>("Rng.Normal with an integer dtype", () => Rng.Normal(PrngKey.Create(0), [2], DType.Int32), "Rng.Normal", "dtype"),
        Case<ArgumentOutOfRangeException>("Rng.Uniform with an integer dtype", () => Rng.Uniform(PrngKey.Create(0), [2], 0, 1, DType.Int32), "Rng.Uniform", "dtype"),
        Case<ArgumentOutOfRangeException>("Np.Full with an undefined dtype", () => Full([2], 1.0, (DType)42), "dtype"),
        Case<ArgumentOutOfRangeException>("OneHot with an undefined dtype", () => OneHot(V(0, 1), 2, (DType)42), "dtype"),
        Case<ShapeException>("Tensor cast to double of a matrix", () => (double)M(2, 2), "rank-0", "float64[2,2]", "Np.Sum"),

        // ---------------------------------------------------------------- Tree
        Case<ArgumentNullException>("Tree.Map with a null function", () => Tree.Map(null!, new P(x3, x3)), "f"),
        Case<ArgumentNullException>("Tree.Map of a null tree", () => Tree.Map(t => t, (P)null!), "tree", "null"),
        Case<ArgumentNullException>("Tree.Map of a tree with a null leaf", () => Tree.Map(t => t, new P(x3, null!)), "tree.B", "null"),
        Case<ArgumentException>("Tree.Map whose function returns null", () => Tree.Map(t => null!, new P(x3, x3)), "returned null", "tree.W"),
        Case<ArgumentNullException>("Tree.Map of two trees, second null", () => Tree.Map((a, b) => a + b, new P(x3, x3), null!), "b"),
        Case<ArgumentNullException>("Tree.Map of two trees with a null leaf", () => Tree.Map((a, b) => a + b, new P(x3, x3), new P(null!, x3)), "b.W"),
        Case<ShapeException>("Tree.Map of two trees with mismatched leaves", () => Tree.Map((a, b) => a + b, new P(x3, x3), new P(V(1, 2), x3)), "float64[2]"),
        Case<ArgumentNullException>("Tree.Leaves of a null tree", () => Tree.Leaves((P)null!), "tree"),
        Case<ArgumentNullException>("Tree.Ravel of a tree with a null leaf", () => Tree.Ravel(new P(null!, x3)), "tree.W"),
        Case<ShapeException>("Tree.Ravel unravel of the wrong size", () => Tree.Ravel(new P(x3, x3)).Unravel(V(1, 2)), "Unravel", "6 elements"),
        Case<ArgumentNullException>("Tree.Ravel unravel of null", () => Tree.Ravel(new P(x3, x3)).Unravel(null!), "v"),
        Case<ArgumentNullException>("Tree.Normal of a null template", () => Tree.Normal(PrngKey.Create(0), (P)null!), "tree"),
        Case<ArgumentNullException>("Tree.Zip with a null tree", () => Tree.Zip(new P(x3, x3), (P)null!).ToList(), "tree"),

        // ---------------------------------------------------------------- Optim and Rng
        Case<ArgumentOutOfRangeException>("Sgd with a NaN learning rate", () => Optim.Sgd<P>(double.NaN), "learning rate", "NaN"),
        Case<ArgumentOutOfRangeException>("Sgd with an infinite learning rate", () => Optim.Sgd<P>(double.PositiveInfinity), "learning rate"),
        Case<ArgumentOutOfRangeException>("Adam with beta1 = 1", () => Optim.Adam<P>(beta1: 1), "beta1", "[0, 1)"),
        Case<ArgumentOutOfRangeException>("Adam with a negative beta2", () => Optim.Adam<P>(beta2: -0.1), "beta2"),
        Case<ArgumentOutOfRangeException>("Adam with a negative epsilon", () => Optim.Adam<P>(epsilon: -1), "epsilon"),
        Case<ArgumentOutOfRangeException>("Adam with a NaN learning rate", () => Optim.Adam<P>(double.NaN), "learning rate"),
        Case<PytreeException>("Sgd of a record with a double leaf", () => Optim.Sgd<(Tensor, double)>(0.1), "double", "Tensor.Scalar"),
        Case<ArgumentNullException>("AdamInit of null", () => Optim.AdamInit((P)null!), "tree"),
        Case<ShapeException>("Sgd with gradients of the wrong shape", () => Optim.Sgd<P>(0.1).Compile()(new P(x3, x3), new P(V(1, 2), x3)), "float64[2]"),
        Case<ArgumentException>("Rng.Normal with a negative dimension", () => Rng.Normal(PrngKey.Create(0), [-1]), "negative dimension"),
        Case<ArgumentException>("Rng.Normal too large", () => Rng.Normal(PrngKey.Create(0), [50000, 50000]), "more than one tensor can hold"),
        Case<ArgumentNullException>("Rng.Normal with a null shape", () => Rng.Normal(PrngKey.Create(0), null!), "shape"),
        Case<ArgumentException>("Rng.Uniform with low above high", () => Rng.Uniform(PrngKey.Create(0), [2], 1, 0), "must exceed low"),
        Case<ArgumentException>("Rng.Uniform with infinite bounds", () => Rng.Uniform(PrngKey.Create(0), [2], double.NegativeInfinity, double.PositiveInfinity), "finite"),
        Case<ArgumentException>("Rng.Uniform with a NaN bound", () => Rng.Uniform(PrngKey.Create(0), [2], double.NaN, 1), "must exceed low"),
        Case<ArgumentOutOfRangeException>("PrngKey.Split of a negative count", () => PrngKey.Create(0).Split(-1), "n"),

        // ---------------------------------------------------------------- GradCheck
        Case<ArgumentOutOfRangeException>("GradCheck with h = 0", () => GradCheck.Check(sumSq, x3, h: 0), "h", "positive"),
        Case<ArgumentOutOfRangeException>("GradCheck with a negative h", () => GradCheck.Check(sumSq, x3, h: -1e-5), "h"),
        Case<ArgumentOutOfRangeException>("GradCheck with a NaN h", () => GradCheck.Check(sumSq, x3, h: double.NaN), "h"),
        Case<ArgumentOutOfRangeException>("GradCheck with an infinite h", () => GradCheck.Check(sumSq, x3, h: double.PositiveInfinity), "h"),
        Case<ArgumentOutOfRangeException>("GradCheck with a negative tolerance", () => GradCheck.Check(sumSq, x3, tolerance: -1), "tolerance"),
        Case<ArgumentOutOfRangeException>("GradCheck.CheckDirections with 0 directions", () => GradCheck.CheckDirections(sumSq, x3, directions: 0), "directions"),
        Case<ArgumentOutOfRangeException>("GradCheck.CheckDirections with h = 0", () => GradCheck.CheckDirections(sumSq, x3, h: 0), "h"),
        Case<ArgumentNullException>("GradCheck of a null function", () => GradCheck.Check((Expression<Func<Tensor, Tensor>>)null!, x3), "f"),
        Case<ArgumentNullException>("GradCheck at a null point", () => GradCheck.Check(sumSq, null!), "x"),
        Case<GradException>("GradCheck of a vector function", () => GradCheck.Check((Expression<Func<Tensor, Tensor>>)(x => x * 2), x3), "scalar output"),
    ];

    public static TheoryData<string> Names => BadInputs.Names(Cases);

    [Theory, MemberData(nameof(Names))]
    public void Rejected(string name) => Check(Find(Cases, name));

    [Fact]
    public void The_catalogue_has_at_least_150_cases_with_unique_names()
    {
        var all = BadInputCatalogueReader.Cases.Concat(BadInputCatalogueTransforms.Cases).Concat(Cases).ToArray();
        Assert.True(all.Length >= 150, $"{all.Length} cases");
        Assert.Equal(all.Length, all.Select(c => c.Name).Distinct().Count());
        Assert.All(all, c => Assert.NotEmpty(c.Fragments));
    }
}
