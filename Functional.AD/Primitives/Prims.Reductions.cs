using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The reduction vocabulary beyond the core (Sum, Mean, Max, LogSumExp, Argmax over one axis): the same over several
/// axes, Min, Argmin, Var, Std (with ddof), Any, All and the norms. Each is a composite: its C# spellings (every
/// overload, read by <see cref="ReadsAs"/> into one canonical parameter list: axes or null, keepdims, ddof, ord) are
/// rewritten, as the graph is built, into the core reductions and elementwise primitives, so their JVP, transpose,
/// batching, jit and Torch rules are those of the primitives they are made of and no transformation grows a case.
/// A composite never appears in a graph. Made by <see cref="DeclareReductionVocabulary"/>.
/// </summary>
internal static partial class Prims
{
    static readonly List<Primitive> composites = new();

    /// <summary>The composites: read from their C# spellings and rewritten at once (never in a graph, so no spec, Vmap or Torch rule of their own).</summary>
    public static IReadOnlyList<Primitive> Composites { get { EnsureVocabulary(); return composites; } }

    /// <summary>Sum over several axes.</summary>
    public static Primitive SumAxes { get { if (sumAxes is null) Vocabulary.Ensure(); return sumAxes!; } private set => sumAxes = value; }
    static Primitive? sumAxes;
    /// <summary>Mean over several axes.</summary>
    public static Primitive MeanAxes { get { if (meanAxes is null) Vocabulary.Ensure(); return meanAxes!; } private set => meanAxes = value; }
    static Primitive? meanAxes;
    /// <summary>Max over several axes (ties split evenly over the whole block, as JAX).</summary>
    public static Primitive MaxAxes { get { if (maxAxes is null) Vocabulary.Ensure(); return maxAxes!; } private set => maxAxes = value; }
    static Primitive? maxAxes;
    /// <summary>LogSumExp over several axes.</summary>
    public static Primitive LogSumExpAxes { get { if (logSumExpAxes is null) Vocabulary.Ensure(); return logSumExpAxes!; } private set => logSumExpAxes = value; }
    static Primitive? logSumExpAxes;
    /// <summary>Min over one axis, all, or several: <c>-Max(-x)</c>.</summary>
    public static Primitive Min { get { if (min is null) Vocabulary.Ensure(); return min!; } private set => min = value; }
    static Primitive? min;
    /// <summary>Argmin: <c>Argmax(-x)</c>.</summary>
    public static Primitive Argmin { get { if (argmin is null) Vocabulary.Ensure(); return argmin!; } private set => argmin = value; }
    static Primitive? argmin;
    /// <summary>Variance with ddof.</summary>
    public static Primitive Var { get { if (var is null) Vocabulary.Ensure(); return var!; } private set => var = value; }
    static Primitive? var;
    /// <summary>Standard deviation with ddof.</summary>
    public static Primitive Std { get { if (std is null) Vocabulary.Ensure(); return std!; } private set => std = value; }
    static Primitive? std;
    /// <summary>Any non-zero (bool).</summary>
    public static Primitive Any { get { if (any is null) Vocabulary.Ensure(); return any!; } private set => any = value; }
    static Primitive? any;
    /// <summary>All non-zero (bool).</summary>
    public static Primitive All_ { get { if (all_ is null) Vocabulary.Ensure(); return all_!; } private set => all_ = value; }
    static Primitive? all_;
    /// <summary>The Frobenius norm over all or several axes.</summary>
    public static Primitive Norm { get { if (norm is null) Vocabulary.Ensure(); return norm!; } private set => norm = value; }
    static Primitive? norm;
    /// <summary>The vector p-norm.</summary>
    public static Primitive VectorNorm { get { if (vectorNorm is null) Vocabulary.Ensure(); return vectorNorm!; } private set => vectorNorm = value; }
    static Primitive? vectorNorm;

    /// <summary>The canonical parameters of a composite reduction: axes (null: every axis), keepdims, ddof, ord, and the call as C# prints it.</summary>
    sealed record ReduceArgs(int[]? Axes, bool Keep, double Ddof, double Ord, string Call);

    static IEnumerable<MethodInfo> NpOverloads(string name, Func<MethodInfo, bool>? where = null) =>
        typeof(Np).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.Name == name && m.GetParameters()[0].ParameterType == T && m.GetParameters().Skip(1).All(q => q.ParameterType != T))
            .Where(m => where?.Invoke(m) ?? true);

    /// <summary>Reads a spelling's static arguments by their parameter names into <see cref="ReduceArgs"/>.</summary>
    static ReduceArgs Canonical(string name, MethodInfo m, object?[] statics)
    {
        int[]? axes = null; bool keep = false; double ddof = 0, ord = 2;
        var shown = new List<string> { "x" };
        var ps = m.GetParameters().Skip(1).Where(q => !Primitive.IsOperandType(q.ParameterType)).ToArray();
        for (int i = 0; i < ps.Length; i++)
        {
            var v = statics[i];
            switch (ps[i].Name)
            {
                case "axis": axes = v is int a ? [a] : null; shown.Add(v is int a1 ? a1.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null"); break;
                case "axes": axes = ((Axes)v!).Items.ToArray(); shown.Add(((Axes)v!).ToString()); break;
                case "keepdims": keep = (bool)v!; shown.Add(keep ? "true" : "false"); break;
                case "ddof": ddof = Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture); shown.Add(Printer.Literal(ddof)); break;
                default: throw new InvalidOperationException($"Internal error: Np.{name} has a parameter {ps[i].Name} the reduction vocabulary does not read.");
            }
        }
        return new ReduceArgs(axes, keep, ddof, ord, $"Np.{name}({string.Join(", ", shown)})");
    }

    /// <summary>A composite over the public overloads <paramref name="spellings"/>: each read into <see cref="ReduceArgs"/> and rewritten by <paramref name="expand"/>.</summary>
    static Primitive Composite(string name, MethodInfo[] spellings, Func<V, ReduceArgs, V> expand)
    {
        var p = Def(name, spellings[0], aliases: spellings[1..]);
        p.Family = PrimFamily.Structure;
        p.Rewrite = (b, a, prm) =>
        {
            var r = prm.Get<ReduceArgs>(0);
            // a double argument (VectorNorm's ord) is an operand: it must be a constant known when the expression is read
            if (a.Length > 1)
                r = a[1].IsConst && a[1].Value is double ord ? r with { Ord = ord, Call = r.Call.Replace("x, ", $"x, {Printer.Literal(ord)}, ") }
                    : throw new UnsupportedExpressionException($"{r.Call}: ord must be a constant (1, 2, double.PositiveInfinity, ...) known when the expression is read", r.Call);
            return expand(new V(a[0]), r).N;
        };
        foreach (var m in spellings)
        {
            var spelling = m;
            readsAs[m] = st => (p, new Params(Canonical(spelling.Name, spelling, st)));
        }
        composites.Add(p);
        return Batch(p, BatchRules.Never);
    }

    /// <summary>
    /// The order in which to reduce <paramref name="r"/>'s axes one by one. With keepdims any order does; without, the
    /// non-negative axes largest first and the negative ones most negative first, so each leaves the others' indices as
    /// they are; a mix of the two needs the rank, which is not known when the expression is read.
    /// </summary>
    static int[] ReadOrder(ReduceArgs r)
    {
        var axes = r.Axes!;
        if (axes.Length == 0)
            throw new UnsupportedExpressionException($"{r.Call}: no axes given; give at least one axis, or pass null to reduce every axis", r.Call);
        if (axes.Distinct().Count() != axes.Length)
            throw new UnsupportedExpressionException($"{r.Call}: the axes name an axis twice; give each axis once", r.Call);
        bool neg = axes.Any(a => a < 0), pos = axes.Any(a => a >= 0);
        if (neg && pos && !r.Keep)
            throw new UnsupportedExpressionException($"{r.Call}: inside an expression the axes of a reduction without keepdims must be all non-negative or all negative " +
                "(the rank is not known when the expression is read, so 0 and -1 cannot be ordered or told apart); write them with one sign, or use keepdims: true", r.Call);
        return pos ? axes.OrderByDescending(a => a).ToArray() : axes.OrderBy(a => a).ToArray();
    }

    static V Single(Primitive p, V x, int? axis, bool keep) => new(x.B.Apply(p, [x.N], new Params(axis, keep)));

    /// <summary>A single-axis reduction <paramref name="p"/> over r's axes (or all), one axis at a time.</summary>
    static V Over(Primitive p, V x, ReduceArgs r, bool keep)
    {
        if (r.Axes is null) return Single(p, x, null, keep);
        var rk = r with { Keep = keep };
        foreach (var a in ReadOrder(rk)) x = Single(p, x, a, keep);
        return x;
    }

    /// <summary>
    /// The maximum over several axes. Its value is the single-axis maxima one after another; its tangent the mean of
    /// the tangents at every maximising position of the block (JAX's rule), given by a term whose value is exactly +0:
    /// <c>Σ_mask (stop(x) - x) / count</c>, subtracted (so -0 stays -0). A NaN in the block gives NaN (count 0).
    /// </summary>
    static V MaxOver(V x, ReduceArgs r)
    {
        if (r.Axes is null || r.Axes.Length == 1) return Over(Max, x, r, r.Keep);
        var order = ReadOrder(r);
        var xs = Ap1(StopGradient, x);
        var keep = r with { Keep = true };
        var m = Over(Max, xs, keep, true);
        var mask = Ap2(And, R.Equal(xs, m), Ap1(IsFinite, xs));
        var aval = R.AvalOf(x);
        var zeros = R.Zeros(aval);
        var count = Over(Sum, R.Where(mask, new V(x.B.Apply(Ones, [aval.N])), zeros), keep, true);
        var y = m - Over(Sum, R.Where(mask, xs - x, zeros), keep, true) / count;
        if (r.Keep) return y;
        // drop the size-1 axes: a max over one element is the identity, in value and derivative, for every dtype
        foreach (var a in order) y = Single(Max, y, a, false);
        return y;
    }

    static V VarOf(V x, ReduceArgs r)
    {
        var d = x - Over(Mean, x, r, true);
        var n = Over(Sum, new V(x.B.Apply(Ones, [R.AvalOf(d).N])), r, r.Keep);
        return Over(Sum, d * d, r, r.Keep) / (n - r.Ddof);
    }

    static void DeclareReductionVocabulary()
    {
        static bool HasAxes(MethodInfo m) => m.GetParameters().Any(q => q.ParameterType == typeof(Axes));
        SumAxes = Composite("SumAxes", NpOverloads("Sum", HasAxes).ToArray(), (x, r) => Over(Sum, x, r, r.Keep));
        MeanAxes = Composite("MeanAxes", NpOverloads("Mean", HasAxes).ToArray(), (x, r) => Over(Mean, x, r, r.Keep));
        MaxAxes = Composite("MaxAxes", NpOverloads("Max", HasAxes).ToArray(), MaxOver);
        LogSumExpAxes = Composite("LogSumExpAxes", NpOverloads("LogSumExp", HasAxes).ToArray(), (x, r) => Over(LogSumExp, x, r, r.Keep));
        Min = Composite("Min", NpOverloads("Min").ToArray(), (x, r) => -MaxOver(-x, r));
        Argmin = Composite("Argmin", NpOverloads("Argmin").ToArray(), (x, r) => new V(x.B.Apply(Argmax, [(-x).N], new Params(r.Axes is null ? null : (int?)r.Axes[0]))));
        Var = Composite("Var", NpOverloads("Var").ToArray(), VarOf);
        Std = Composite("Std", NpOverloads("Std").ToArray(), (x, r) => Sqrt_(VarOf(x, r)));
        Any = Composite("Any", NpOverloads("Any").ToArray(), (x, r) => R.Greater(Over(Sum, Ap1(Not, R.Equal(x, x.Const(0))), r, r.Keep), x.Const(0)));
        All_ = Composite("All", NpOverloads("All").ToArray(), (x, r) => R.Equal(Over(Sum, R.Equal(x, x.Const(0)), r, r.Keep), x.Const(0)));
        Norm = Composite("Norm", NpOverloads("Norm").ToArray(), (x, r) => Sqrt_(Over(Sum, x * x, r, r.Keep)));
        VectorNorm = Composite("VectorNorm", NpOverloads("VectorNorm").ToArray(), (x, r) =>
        {
            Np.CheckOrd(r.Ord, () => r.Call);
            var abs = Ap1(Abs, x);
            return r.Ord switch
            {
                1 => Over(Sum, abs, r, r.Keep),
                2 => Sqrt_(Over(Sum, x * x, r, r.Keep)),
                double.PositiveInfinity => Over(Max, abs, r, r.Keep),
                double.NegativeInfinity => -Over(Max, -abs, r, r.Keep),
                _ => R.Pow(Over(Sum, R.Pow(abs, x.Const(r.Ord)), r, r.Keep), x.Const(1 / r.Ord)),
            };
        });
    }
}
