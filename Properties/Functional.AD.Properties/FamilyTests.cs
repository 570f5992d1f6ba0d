using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The columns a family fills: every elementwise primitive has element code and a vector form (so no primitive cuts a
/// fusion chain or the batch loop's lanes), and the two agree lane by lane.
/// </summary>
public class FamilyTests
{
    public static IEnumerable<object[]> Elementwise =>
        Prims.All.Where(p => p.Elementwise).Select(p => new object[] { p.Name });

    static Primitive Named(string name) => Prims.All.Single(p => p.Elementwise && p.Name == name);

    [Fact]
    public void Every_elementwise_primitive_has_element_code_and_a_vector_form()
    {
        var missing = Prims.All.Where(p => p.Elementwise && (p.Scalar is null || p.Vector is null)).Select(p => p.Name).ToList();
        Assert.True(missing.Count == 0, "Elementwise primitives without a vector form or element code: " + string.Join(", ", missing));
    }

    /// <summary>Operands at which every elementwise primitive is defined (positive, away from ties and kinks), plus the
    /// special values, written into the lanes of one vector.</summary>
    static double[] Lane(int operand, int lanes) =>
        Enumerable.Range(0, lanes).Select(i => operand switch
        {
            0 => 0.3 + 0.37 * i,
            1 => 0.2 + 0.23 * ((i * 5) % lanes),
            _ => 2.5 + 0.1 * i,
        }).ToArray();

    [Theory]
    [MemberData(nameof(Elementwise))]
    public void The_vector_form_agrees_with_the_element_code(string name)
    {
        var p = Named(name);
        foreach (var t in new[] { typeof(double), typeof(float) })
        {
            var code = VectorCode.For(t);
            int lanes = Fusion.Width(t).Lanes;
            int arity = p.TensorMethod?.GetParameters().Count(q => q.ParameterType == typeof(Tensor)) ?? 2;   // NotEqual: C# scalars only
            var arrays = Enumerable.Range(0, arity).Select(i => Expression.Parameter(t.MakeArrayType(), $"x{i}")).ToArray();
            var load = code.Ops.GetMethod("Load")!.MakeGenericMethod(t);
            var store = code.Ops.GetMethod("Store")!.MakeGenericMethod(t);
            var result = Expression.Parameter(t.MakeArrayType(), "r");
            var vector = p.Vector!(code, arrays.Select(a => (Expression)Expression.Call(load, a, Expression.Constant(0))).ToArray());
            var run = Expression.Lambda(Expression.Call(store, vector, result, Expression.Constant(0)), [.. arrays, result]).Compile();

            var inputs = Enumerable.Range(0, arity).Select(i => Lane(i, lanes)).ToArray();
            object Arr(double[] v) => t == typeof(double) ? v : v.Select(x => (float)x).ToArray();
            var args = inputs.Select(Arr).Append(Arr(new double[lanes])).ToArray();
            run.DynamicInvoke(args);
            var got = ((Array)args[^1]).Cast<object>().Select(Convert.ToDouble).ToArray();

            for (int l = 0; l < lanes; l++)
            {
                var elems = inputs.Select(v => (Expression)Expression.Constant(t == typeof(double) ? v[l] : (object)(float)v[l], t)).ToArray();
                var one = Expression.Lambda(Expression.Convert(Primitive.Conv(p.Scalar!(elems, t), t), typeof(double))).Compile();
                double want = (double)one.DynamicInvoke()!;
                // outside a function's domain (asin of 2) both give NaN
                if (double.IsNaN(want) && double.IsNaN(got[l])) continue;
                double tol = (t == typeof(double) ? 1e-14 : 1e-6) * Math.Max(1, Math.Abs(want));
                Assert.True(Math.Abs(got[l] - want) <= tol, $"{name} ({t.Name}) lane {l}: vector {got[l]:R}, element code {want:R}");
            }
        }
    }

    public static IEnumerable<object[]> ElementwiseOnTensors =>
        from p in Prims.All
        where p.Elementwise && p.TensorMethod is { } m && m.GetParameters().All(q => q.ParameterType == typeof(Tensor))
        from t in new[] { DType.Float32, DType.Float64 }
        select new object[] { p.Name, t };

    /// <summary>
    /// Every elementwise primitive on tensors too large to unroll is lowered to a fused vector loop (with a scalar tail:
    /// 185 elements), never to its eager kernel, and gives what <c>Compile()</c> gives. A chain through it and an
    /// operation on each side stays one loop.
    /// </summary>
    [Theory]
    [MemberData(nameof(ElementwiseOnTensors))]
    public void Every_elementwise_primitive_is_fused_in_a_chain_and_equals_compile(string name, DType dtype)
    {
        var p = Named(name);
        var m = p.TensorMethod!;
        int arity = m.GetParameters().Length;
        var xs = Enumerable.Range(0, arity).Select(i => Expression.Parameter(typeof(Tensor), $"x{i}")).ToArray();
        // operands in every primitive's domain (positive, distinct), each passed through an Add first so the chain starts before p
        var call = Expression.Call(m, xs.Select(x => (Expression)Expression.Add(x, Expression.Convert(Expression.Constant(0.25), typeof(Tensor)))));
        // a bool result (comparisons, logical operators) selects between x0 and a constant, which keeps the chain's dtype
        // (bool * 1.5 would be a weak float32, a loop of its own for float64 operands, as JAX's promotion says)
        Expression body = p.Gives(DType.Float32) == DType.Bool
            ? Expression.Call(typeof(Np).GetMethod(nameof(Np.Where))!, call, xs[0], Expression.Convert(Expression.Constant(1.5), typeof(Tensor)))
            : Expression.Multiply(call, Expression.Convert(Expression.Constant(1.5), typeof(Tensor)));
        var f = Expression.Lambda(body, xs);
        var args = Enumerable.Range(0, arity).Select(i => (object)Np.Add(Rng.Uniform(PrngKey.Create(10 + i), [5, 37], dtype: dtype), new Tensor(0.3 + 1.1 * i).AsType(dtype))).ToArray();
        var expected = f.Compile().DynamicInvoke(args);
        var jitted = JitTests.JitAny(f).DynamicInvoke(args);
        Assert.Null(JitTests.Differ(expected, jitted));
        var listing = Ad.Show(f, args);
        Assert.DoesNotContain("eager", listing);
        Assert.True(System.Text.RegularExpressions.Regex.Matches(listing, @"fused #(\d+)").Select(r => r.Groups[1].Value).Distinct().Count() == 1,
            $"{name}: expected one fused chain\n{listing}");
    }

    /// <summary>Log1p and Expm1 keep tiny arguments where log(1 + x) and exp(x) - 1 lose them, in float32 and float64,
    /// eagerly, unrolled by the jit and in fused loops.</summary>
    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Log1p_and_Expm1_are_accurate_near_zero(DType dtype)
    {
        double[] xs = [1e-8, -1e-8, 3e-12, 1e-20, 1e-5];
        Expression<Func<Tensor, Tensor>> log1p = x => Log1p(x), expm1 = x => Expm1(x);
        var small = new Tensor(xs).AsType(dtype);
        var large = new Tensor(Enumerable.Range(0, 64).Select(i => xs[i % xs.Length]).ToArray()).AsType(dtype);
        foreach (var (f, exact) in new[] { (log1p, (Func<double, double>)(x => x - x * x / 2 + x * x * x / 3)), (expm1, x => x + x * x / 2 + x * x * x / 6) })
        {
            foreach (var (how, y, x) in new[] { ("eager", f.Compile()(small), small), ("jit unrolled", Ad.Jit(f)(small), small), ("jit fused", Ad.Jit(f)(large), large) })
            {
                var xv = x.ToDoubleArray();
                var yv = y.ToDoubleArray();
                for (int i = 0; i < xv.Length; i++)
                {
                    double want = exact(xv[i]);
                    Assert.True(Math.Abs(yv[i] - want) <= (dtype == DType.Float32 ? 2e-7 : 4e-16) * Math.Abs(want),
                        $"{f} {how} at {xv[i]:R} ({dtype}): {yv[i]:R}, want {want:R}");
                }
            }
        }
    }

    /// <summary>Erf against its defining integral, by Simpson's rule in float64; Atan against Math.Atan.</summary>
    [Fact]
    public void Erf_matches_its_integral_and_Atan_matches_Math()
    {
        static double Integral(double x)
        {
            int n = 20000;
            double h = x / n, s = 0;
            for (int i = 0; i <= n; i++) s += (i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2) * Math.Exp(-(i * h) * (i * h));
            return 2 / Math.Sqrt(Math.PI) * s * h / 3;
        }
        double[] xs = [-3.5, -1, -0.25, 0, 1e-9, 0.5, 1, 2, 4.5, 7];
        var erf = Erf(new Tensor(xs)).ToDoubleArray();
        var atan = Atan(new Tensor(xs)).ToDoubleArray();
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.Equal(Integral(xs[i]), erf[i], 1e-13);
            Assert.Equal(Math.Atan(xs[i]), atan[i], 1e-15);
        }
    }

    /// <summary>Found by the gradient oracle: with lo &gt; hi, Clip is hi everywhere (min(max(x, lo), hi)), so only hi has a
    /// derivative; the rule sent it to lo where x &lt; lo. Checked against central differences in float64, each operand on
    /// each side of the others.</summary>
    [Theory]
    [InlineData(0.2, 0.9, 0.5)]    // lo < x < hi
    [InlineData(-0.3, 0.1, 0.5)]   // x < lo < hi
    [InlineData(0.8, 0.1, 0.5)]    // lo < hi < x
    [InlineData(0.2, 0.9, 0.4)]    // x < hi < lo
    [InlineData(0.95, 0.9, 0.4)]   // hi < lo < x
    [InlineData(0.6, 0.9, 0.4)]    // hi < x < lo
    public void The_gradient_of_Clip_matches_differences_on_every_ordering(double x, double lo, double hi)
    {
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> f = (a, l, h) => Sum(Clip(a, l, h) * 3.0, null, false);
        var value = f.Compile();
        static Tensor T(double v) => Full([1], v, DType.Float64);
        var (tx, tl, th) = (T(x), T(lo), T(hi));
        var gx = Ad.Grad(f).Compile()(tx, tl, th);
        var gl = Ad.Grad(f, Wrt.Second).Compile()(tx, tl, th);
        var gh = Ad.Grad(f, Wrt.Third).Compile()(tx, tl, th);
        double D(Func<double, double> g) => (g(1e-6) - g(-1e-6)) / 2e-6;
        double V(double a, double l, double h) => (double)value(T(a), T(l), T(h));
        Assert.Equal(D(e => V(x + e, lo, hi)), gx.ToDoubleArray()[0], 6);
        Assert.Equal(D(e => V(x, lo + e, hi)), gl.ToDoubleArray()[0], 6);
        Assert.Equal(D(e => V(x, lo, hi + e)), gh.ToDoubleArray()[0], 6);
    }
}
