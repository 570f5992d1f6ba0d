using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Np.Diag and Np.Meshgrid against plain loops (numpy's definitions), eagerly and under the jit, every offset k
/// (inside, at the edge and outside the matrix), integers exactly; the gradient of Diag is the transpose's move (checked
/// by hand), and Meshgrid's composed spelling differentiates to the sums along the repeated axis. (Vmap, Torch, finite
/// differences and the dtypes run from the spec lines, Specs.Cumulative.cs.)
/// </summary>
public class DiagonalTests
{
    public static IEnumerable<object[]> Offsets => new[] { -4, -2, -1, 0, 1, 3, 5 }.Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(Offsets))]
    public void Diag_of_a_vector_and_of_a_matrix_equals_loops(int k)
    {
        var v = new Tensor(new[] { 3.0, -1, 4 });
        Expression<Func<Tensor, Tensor>> f = x => Diag(x, k);
        int size = 3 + Math.Abs(k);
        var want = new double[size * size];
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
                if (c - r == k) want[r * size + c] = v.ToDoubleArray()[Math.Min(r, c)];
        var m = new Tensor(Enumerable.Range(0, 12).Select(i => (double)(i * i - 5)).ToArray(), [3, 4]);
        var md = m.ToDoubleArray();
        var diag = new List<double>();
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++)
                if (c - r == k) diag.Add(md[r * 4 + c]);
        foreach (var run in new[] { f.Compile(), f.Jit() })
        {
            var e = run(v);
            Assert.Equal(new[] { size, size }, e.Dims);
            Assert.Equal(want, e.ToDoubleArray());
            var d = run(m);
            Assert.Equal(new[] { diag.Count }, d.Dims);
            Assert.Equal(diag, d.ToDoubleArray());
            var di = run(m.AsType(DType.Int32));
            Assert.Equal(DType.Int32, di.DType);
            Assert.Equal(diag.Select(x => (int)x), di.ToArray<int>());
        }
    }

    /// <summary>The gradient of Σ w·Diag(x): for a matrix x, w's entries placed on the diagonal (zeros elsewhere); for a vector x, w's diagonal.</summary>
    [Fact]
    public void Diag_gradients_are_the_moves_back()
    {
        var m = new Tensor(Enumerable.Range(0, 12).Select(i => (double)i).ToArray(), [3, 4]);
        var w = new Tensor(new[] { 10.0, 20 });
        Expression<Func<Tensor, Tensor>> fm = x => Sum(Diag(x, 2) * w, null, false);
        var want = new double[12];
        want[0 * 4 + 2] = 10; want[1 * 4 + 3] = 20;
        foreach (var run in new[] { fm.Grad().Compile(), fm.Grad().Jit() }) Assert.Equal(want, run(m).ToDoubleArray());
        var w3 = new Tensor(Enumerable.Range(0, 9).Select(i => (double)i).ToArray(), [3, 3]);
        Expression<Func<Tensor, Tensor>> fv = x => Sum(Diag(x, -1) * w3, null, false);
        // Diag of a length-2 vector at k = -1 is 3 × 3 with v at (1, 0) and (2, 1): w3 there is 3 and 7
        foreach (var run in new[] { fv.Grad().Compile(), fv.Grad().Jit() }) Assert.Equal(new[] { 3.0, 7 }, run(new Tensor(new[] { 1.0, 2 })).ToDoubleArray());
    }

    [Fact]
    public void Diag_of_a_rank_3_tensor_is_a_shape_error_naming_the_call()
    {
        var e = Assert.Throws<ShapeException>(() => Diag(new Tensor(new double[8], [2, 2, 2]), 0));
        Assert.Contains("Np.Diag(x: float64[2,2,2], k: 0)", e.Message);
        Assert.Contains("vector", e.Message);
    }

    /// <summary>numpy's meshgrid: "xy" gives [len y, len x] matrices, X[i, j] = x[j] and Y[i, j] = y[i]; "ij" the transposes.</summary>
    [Fact]
    public void Meshgrid_equals_numpys_definition_and_its_composed_spelling_differentiates()
    {
        var x = new Tensor(new[] { 1.0, 2, 3 });
        var y = new Tensor(new[] { 4.0, 5 });
        var xy = Meshgrid(x, y, "xy");
        Assert.Equal(new[] { 2, 3 }, xy[0].Dims);
        Assert.Equal(new[] { 1.0, 2, 3, 1, 2, 3 }, xy[0].ToDoubleArray());
        Assert.Equal(new[] { 4.0, 4, 4, 5, 5, 5 }, xy[1].ToDoubleArray());
        var ij = Meshgrid(x, y, "ij");
        Assert.Equal(new[] { 3, 2 }, ij[0].Dims);
        Assert.Equal(new[] { 1.0, 1, 2, 2, 3, 3 }, ij[0].ToDoubleArray());
        Assert.Equal(new[] { 4.0, 5, 4, 5, 4, 5 }, ij[1].ToDoubleArray());
        Assert.Equal(DType.Int32, Meshgrid(x.AsType(DType.Int32), y, "xy")[0].DType);
        Assert.Throws<ArgumentException>(() => Meshgrid(x, y, "yx"));
        // the spelling inside an expression (docs/numpy.md): d/dx of Σ w·X is w summed over the rows
        var w = new Tensor(new[] { 1.0, 2, 4, 8, 16, 32 }, [2, 3]);
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Sum((ExpandDims(a, 0) + Lax.Zeros(Lax.AvalOf(ExpandDims(b, 1)))) * w, null, false);
        var g = f.Grad().Jit()(x, y).ToDoubleArray();
        Assert.Equal(new[] { 1.0 + 8, 2 + 16, 4 + 32 }, g);
    }

    /// <summary>
    /// Np.Meshgrid read inside an expression: the pieces equal the method's (each keeps its own dtype), on Compile and
    /// the jit, under Vmap, and the gradient of Σ w·X + Σ v·Y is w summed over the repeated axis (and v likewise).
    /// </summary>
    [Theory]
    [InlineData("xy")]
    [InlineData("ij")]
    public void Meshgrid_inside_an_expression_equals_the_method_and_differentiates(string indexing)
    {
        var x = new Tensor(new[] { 1.0, 2, 3 });
        var y = new Tensor(new[] { 4.0, 5 });
        var eager = Meshgrid(x, y, indexing);
        Expression<Func<Tensor, Tensor, Tensor>> first = (a, b) => Meshgrid(a, b, indexing)[0];
        Expression<Func<Tensor, Tensor, Tensor>> second = (a, b) => Meshgrid(a * 1, b, indexing)[1];
        foreach (var run in new[] { first.Compile(), first.Jit() })
            Assert.Equal(eager[0].ToDoubleArray(), run(x, y).ToDoubleArray());
        foreach (var run in new[] { second.Compile(), second.Jit() })
            Assert.Equal(eager[1].ToDoubleArray(), run(x, y).ToDoubleArray());
        // each piece keeps its own dtype, as the method's do
        var yi = y.AsType(DType.Int32);
        Assert.Equal(DType.Float64, first.Compile()(x, yi).DType);
        Assert.Equal(DType.Int32, second.Compile()(x, yi).DType);
        Assert.Equal(DType.Int32, second.Jit()(x, yi).DType);
        Assert.Equal(Meshgrid(x, yi, indexing)[1].ToDoubleArray(), second.Jit()(x, yi).ToDoubleArray());
        // gradients: X repeats x along one axis, Y repeats y along the other
        var shape = eager[0].Dims;
        var w = new Tensor(Enumerable.Range(0, 6).Select(i => Math.Pow(2, i)).ToArray(), shape);
        var v = new Tensor(Enumerable.Range(0, 6).Select(i => 1.0 + 3 * i).ToArray(), shape);
        Expression<Func<Tensor, Tensor, Tensor>> loss = (a, b) => Sum(Meshgrid(a, b, indexing)[0] * w, null, false) + Sum(Meshgrid(a, b, indexing)[1] * v, null, false);
        int xAxis = indexing == "xy" ? 1 : 0;
        var wd = w.ToDoubleArray(); var vd = v.ToDoubleArray();
        double At(double[] m, int i, int j) => m[i * shape[1] + j];
        var gx = Enumerable.Range(0, 3).Select(k => Enumerable.Range(0, 2).Sum(r => xAxis == 1 ? At(wd, r, k) : At(wd, k, r))).ToArray();
        var gy = Enumerable.Range(0, 2).Select(k => Enumerable.Range(0, 3).Sum(c => xAxis == 1 ? At(vd, k, c) : At(vd, c, k))).ToArray();
        var (ga, gb) = loss.Grad(Wrt.Both).Jit()(x, y);
        Assert.Equal(gx, ga.ToDoubleArray());
        Assert.Equal(gy, gb.ToDoubleArray());
        // under Vmap (a batch of x vectors), each example's X equals the method's
        var xs = new Tensor(new[] { 1.0, 2, 3, -1, 0.5, 7 }, [2, 3]);
        var batched = Ad.Vmap(first, new int?[] { 0, null }).Jit()(xs, y);
        for (int e = 0; e < 2; e++)
            Assert.Equal(Meshgrid(new Tensor(xs.ToDoubleArray().Skip(3 * e).Take(3).ToArray()), y, indexing)[0].ToDoubleArray(),
                batched.ToDoubleArray().Skip(6 * e).Take(6).ToArray());
    }
}

/// <summary>Np.Split against numpy's definition (plain slices), eagerly, under the jit and inside expressions as <c>Split(...)[i]</c>; its gradient puts each piece's cotangent back in place.</summary>
public class SplitTests
{
    static readonly Tensor X = new(Enumerable.Range(0, 12).Select(i => (double)i).ToArray(), [2, 6]);

    [Fact]
    public void Split_into_sections_and_at_indices_gives_the_slices()
    {
        var s = Split(X, 3, 1);
        Assert.Equal(3, s.Length);
        Assert.Equal(new[] { 2, 2 }, s[1].Dims);
        Assert.Equal(new[] { 2.0, 3, 8, 9 }, s[1].ToDoubleArray());
        var p = Split(X, new[] { 1, 4, 9 }, -1);
        Assert.Equal(4, p.Length);
        Assert.Equal(new[] { 0.0, 6 }, p[0].ToDoubleArray());
        Assert.Equal(new[] { 1.0, 2, 3, 7, 8, 9 }, p[1].ToDoubleArray());
        Assert.Equal(new[] { 4.0, 5, 10, 11 }, p[2].ToDoubleArray());
        Assert.Equal(new[] { 2, 0 }, p[3].Dims);
        Assert.Equal(new[] { 6.0, 7, 8, 9, 10, 11 }, Split(X, 2, 0)[1].ToDoubleArray());
        Assert.Equal(DType.Int32, Split(X.AsType(DType.Int32), 2, 0)[0].DType);
        // inside an expression: piece [4, 6) times the first two columns of piece [1, 4)
        Expression<Func<Tensor, Tensor>> g = x => Split(x, 3, 1)[2] * Split(Split(x, new[] { 1, 4 }, 1)[1], new[] { 2 }, 1)[0];
        var want = new[] { 4.0 * 1, 5 * 2, 10 * 7, 11 * 8 };
        foreach (var run in new[] { g.Compile(), g.Jit() }) Assert.Equal(want, run(X).ToDoubleArray());
    }

    /// <summary>d/dx Σ w·Split(x, 3, 1)[1] is w in columns 2 and 3 and zero elsewhere; two pieces of one split add their cotangents in place.</summary>
    [Fact]
    public void Split_gradients_put_the_cotangents_back_in_place()
    {
        var w = new Tensor(new[] { 1.0, 2, 3, 4 }, [2, 2]);
        Expression<Func<Tensor, Tensor>> f = x => Sum(Split(x, 3, 1)[1] * w, null, false) + Sum(Split(x, new[] { 5 }, 1)[1], null, false);
        var want = new[] { 0.0, 0, 1, 2, 0, 1, 0, 0, 3, 4, 0, 1 };
        foreach (var run in new[] { f.Grad().Compile(), f.Grad().Jit() }) Assert.Equal(want, run(X).ToDoubleArray());
    }

    [Fact]
    public void A_split_that_does_not_divide_or_a_bad_index_is_a_typed_error()
    {
        var e = Assert.Throws<ShapeException>(() => Split(X, 4, 1));
        Assert.Contains("does not split into 4 equal sections", e.Message);
        Expression<Func<Tensor, Tensor>> f = x => Split(x, 5, 1)[0];
        Assert.Contains("Np.Split", Assert.Throws<ShapeException>(() => f.Jit()(X)).Message);
        Expression<Func<Tensor, Tensor>> g = x => Split(x, 3, 1)[3];
        Assert.Contains("outside the 3 pieces", Assert.Throws<UnsupportedExpressionException>(() => g.Jit()(X)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Split(X, new[] { -1 }, 0));
    }
}
