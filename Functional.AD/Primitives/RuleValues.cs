namespace Functional.AD;

/// <summary>
/// A value inside a rule. Rules are written with the same operators as user code (<c>t * (1 - ans * ans)</c>), so
/// the nodes they emit are ordinary primitives with rules of their own: derivatives of derivatives come free.
/// A <c>null</c> <see cref="V"/> is a symbolic zero.
/// </summary>
internal sealed class V
{
    readonly Node? node;
    readonly string? poison;
    public readonly Builder B;
    public readonly Kind Kind;

    public V(Node n) { node = n; B = n.Owner; Kind = n.Kind; }
    V(Builder b, Kind kind, string poison) { B = b; Kind = kind; this.poison = poison; }

    /// <summary>A stand-in for a linear operand in a transpose rule: using it as a value is a bug in the rule.</summary>
    public static V Linear(Builder b, Kind kind, string rule) =>
        new(b, kind, $"Internal error: the transpose rule of {rule} used a linear operand as a value.");

    public Node N => node ?? throw new InvalidOperationException(poison);

    Node Lift(double c) => Kind == Kind.Float ? B.Const((float)c) : B.Const(c);

    static V Ap(Primitive p, params V[] xs) => new(xs[0].B.Apply(p, xs.Select(x => x.N).ToArray()));

    public static V operator +(V a, V b) => Ap(Prims.Add, a, b);
    public static V operator -(V a, V b) => Ap(Prims.Sub, a, b);
    public static V operator *(V a, V b) => Ap(Prims.Mul, a, b);
    public static V operator /(V a, V b) => Ap(Prims.Div, a, b);
    public static V operator -(V a) => Ap(Prims.Neg, a);
    public static V operator +(V a, double b) => Ap(Prims.Add, a, new V(a.Lift(b)));
    public static V operator -(V a, double b) => Ap(Prims.Sub, a, new V(a.Lift(b)));
    public static V operator *(V a, double b) => Ap(Prims.Mul, a, new V(a.Lift(b)));
    public static V operator /(V a, double b) => Ap(Prims.Div, a, new V(a.Lift(b)));
    public static V operator +(double a, V b) => Ap(Prims.Add, new V(b.Lift(a)), b);
    public static V operator -(double a, V b) => Ap(Prims.Sub, new V(b.Lift(a)), b);
    public static V operator *(double a, V b) => Ap(Prims.Mul, new V(b.Lift(a)), b);
    public static V operator /(double a, V b) => Ap(Prims.Div, new V(b.Lift(a)), b);

    public V Const(double c) => new(Lift(c));
}

/// <summary>What a rule sees: its operands, output, static parameters and shape helpers.</summary>
internal sealed class RuleCtx
{
    public required Builder B;
    public required V[] X;
    public V? Ans;
    public required Params P;
    public Graph[] Subs = [];
    public bool[] Linear = [];
    /// <summary>Transpose rules: the cotangent is zero wherever a <c>Where</c> did not select this branch, so products
    /// with it must give 0 there even when the other factor is inf or NaN (see <c>MaskedCotangents</c>).</summary>
    public bool SafeCt;
    /// <summary>Transpose rules of a multi-result primitive (<see cref="Kind.Tuple"/>): the cotangent of each result,
    /// <c>null</c> where it is zero (the rule's <c>ct</c> argument is then unused).</summary>
    public V?[]? Cts;
    /// <summary>
    /// JVP rules: a node that computes the same results as <see cref="Ans"/> at the same indices and more (a loop that
    /// also emits the residuals its tangent loop reads), to stand for the primal result from now on; <c>null</c>: keep
    /// <see cref="Ans"/>.
    /// </summary>
    public Node? NewAns;
    /// <summary>The aval (shape and dtype) of operand i, as a node: needed by shape-polymorphic rules.</summary>
    public required Func<int, V> ArgAval;
    public V AvalOfAns => R.AvalOf(Ans!);

    public V Aval(int i) => ArgAval(i);

    /// <summary>Cotangent <paramref name="g"/> of a broadcast result, summed down to operand i's shape and kind.</summary>
    public V Unbroadcast(V g, int i)
    {
        var k = X[i].Kind;
        switch (k)
        {
            case Kind.Double: return g.Kind == Kind.Tensor ? R.ToDouble(R.Sum(g)) : g.Kind == Kind.Float ? R.CastDouble(g) : g;
            case Kind.Float: return g.Kind == Kind.Tensor ? R.ToFloat(R.Sum(g)) : g.Kind == Kind.Double ? R.CastFloat(g) : g;
            default:
                if (g.Kind != Kind.Tensor) g = R.FromScalar(g);
                return R.SumTo(g, Aval(i));
        }
    }

    /// <summary>Tangent <paramref name="t"/> broadcast up to the output's shape and kind (for a symbolic-zero partner).</summary>
    public V BroadcastToAns(V t)
    {
        var k = Ans!.Kind;
        if (k == Kind.Tensor)
        {
            if (t.Kind != Kind.Tensor) t = R.FromScalar(t);
            return R.BroadcastTo(t, AvalOfAns);
        }
        if (k == Kind.Double && t.Kind == Kind.Float) return R.CastDouble(t);
        if (k == Kind.Float && t.Kind == Kind.Double) return R.CastFloat(t);
        return t;
    }

    /// <summary>A zero of operand i's kind and shape.</summary>
    public V ZeroLike(int i) => X[i].Kind switch
    {
        Kind.Double => new V(B.Const(0.0)),
        Kind.Float => new V(B.Const(0f)),
        _ => R.Zeros(Aval(i)),
    };
}
