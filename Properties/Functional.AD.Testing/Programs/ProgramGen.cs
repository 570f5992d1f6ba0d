using FsCheck;
using FsCheck.Fluent;

namespace Functional.AD.Testing.Programs;

/// <summary>How large and of what kind random programs are.</summary>
/// <example><code>
/// var small = new ProgramOptions { MaxDepth = 4, MaxSize = 15, Conditionals = false };
/// var run = Fuzzer.Run(Oracles.Gradient, programs: 500, options: small);
/// </code></example>
public sealed record ProgramOptions
{
    /// <summary>The deepest a program may be (a leaf has depth 1). Each program draws its own limit in 1..MaxDepth, small ones more often.</summary>
    public int MaxDepth { get; init; } = 8;
    /// <summary>The most nodes a program may have (each program draws its own limit, small ones more often).</summary>
    public int MaxSize { get; init; } = 40;
    /// <summary>Highest rank of any value.</summary>
    public int MaxRank { get; init; } = 3;
    /// <summary>Largest axis length.</summary>
    public int MaxDim { get; init; } = 3;
    /// <summary>Whether outputs may be a pair (<c>Np.Tuple</c>).</summary>
    public bool PairOutputs { get; init; } = true;
    /// <summary>Whether outputs may be doubles.</summary>
    public bool DoubleOutputs { get; init; } = true;
    /// <summary>Whether programs may contain <c>c &gt; 0 ? a : b</c> and <c>Np.Where</c>.</summary>
    public bool Conditionals { get; init; } = true;
    /// <summary>
    /// Whether programs may contain loops with random bodies: <c>Np.Fold</c>, <c>Np.Scan</c> (read as its final carry,
    /// its stacked ys or both, sometimes checkpointed) and <c>Np.While</c> (stopping after a data-dependent number of
    /// trips, at most a few), nested in each other and in conditionals.
    /// </summary>
    public bool Loops { get; init; } = true;
    /// <summary>Your own elementwise functions, called as <c>name.Invoke(x)</c> inside random programs.</summary>
    public IReadOnlyList<UserFunction> UserFunctions { get; init; } = [];
    /// <summary>The defaults.</summary>
    public static ProgramOptions Default { get; } = new();
}

/// <summary>
/// Random well-typed programs over the spec table (<see cref="Specs.All"/>, read through <see cref="SpecOp"/>), as
/// FsCheck generators with shrinking. A program is generated top-down from a seed: each node is asked for a value of a
/// given shape (or a double) and picks an operation that can produce it (an elementwise spec over broadcasting
/// operands, a reduction spec over an inserted axis, a product over a random inner length, a reshape, a gather...), so
/// every program is well-typed. Domains hold by construction: each operand of a spec is put into the spec's domain
/// (<c>a * a + 1</c>, <c>Np.Tanh(a) * 0.9</c>), and every node's bound stays below 1000 (a larger operand is squashed by
/// a Tanh). Double code is kept off a random set of tensor leaves, which <c>Ad.Vmap</c> can then batch. Shared
/// subexpressions come from <c>Np.Let</c>.
/// </summary>
/// <example><code>
/// var p = ProgramGen.FromSeed(42);
/// Console.WriteLine(p);                       // C#, inputs, seed
/// var r = Oracles.Gradient.Check(p);          // reverse gradient vs central differences
/// Prop.ForAll(ProgramGen.Arbitrary(), p =&gt; Oracles.Gradient.Check(p).Ok).QuickCheckThrowOnFailure();
/// </code></example>
public static class ProgramGen
{
    /// <summary>The program generated from a seed (deterministic: the replay of a reported failure).</summary>
    public static RandomProgram FromSeed(int seed, ProgramOptions? options = null) => new Generator(seed, options ?? ProgramOptions.Default).Program();

    /// <summary>Programs from random seeds.</summary>
    public static Gen<RandomProgram> Programs(ProgramOptions? options = null) =>
        Gen.Choose(0, int.MaxValue).Select(seed => FromSeed(seed, options));

    /// <summary>Programs with shrinking: a failing program is reported as the smallest failing program found.</summary>
    public static Arbitrary<RandomProgram> Arbitrary(ProgramOptions? options = null) => Arb.From(Programs(options), Shrink);

    /// <summary>
    /// Smaller programs with the same arguments and inputs: an output or any subterm replaced by one of its operands of
    /// the same type, by an argument or <c>Np.Let</c> variable of the same shape, or by a constant; a <c>Np.Let</c> by its
    /// body (the variable substituted). Every candidate is well-typed and inside every domain.
    /// </summary>
    public static IEnumerable<RandomProgram> Shrink(RandomProgram p)
    {
        if (p.Outputs.Count == 2)
        {
            yield return p.WithOutputs([p.Outputs[0]]);
            yield return p.WithOutputs([p.Outputs[1]]);
        }
        for (int o = 0; o < p.Outputs.Count; o++)
            foreach (var t in ShrinkTerm(p.Outputs[o], p.Layout, [], false))
            {
                if (!t.Valid()) continue;
                var outs = p.Outputs.ToArray();
                outs[o] = t;
                yield return p.WithOutputs(outs);
            }
    }

    /// <summary>Greedy shrinking outside FsCheck: repeatedly takes the first smaller program that still fails.</summary>
    public static RandomProgram Minimize(RandomProgram p, Func<RandomProgram, bool> fails, int maxSteps = 200)
    {
        for (int step = 0; step < maxSteps; step++)
        {
            var next = Shrink(p).FirstOrDefault(fails);
            if (next is null) return p;
            p = next;
        }
        return p;
    }

    static bool ContainsLet(Term t) => t.Op == Op.Let || t.Args.Any(ContainsLet);

    static bool SameType(Term a, Term b) => a.IsDouble ? b.IsDouble : !b.IsDouble && a.Shape!.SequenceEqual(b.Shape!);

    /// <summary>
    /// The shrink candidates of a term. Inside a loop (<paramref name="inLoop"/>) a tensor constant is not a candidate: a
    /// float64 constant would make the carry of a float32 program float64, which the loop refuses.
    /// </summary>
    static IEnumerable<Term> ShrinkTerm(Term t, ArgLayout layout, List<VarRef> scope, bool inLoop)
    {
        // 1. the whole subterm by a leaf of the same type (a domain wrapper stays: only its inside shrinks)
        if (t.Op is not (Op.Arg or Op.Var or Op.Const or Op.InDomain))
        {
            for (int i = 0; i < layout.Leaves.Count; i++)
                if (layout.Leaves[i] is var s && (s is null ? t.IsDouble : !t.IsDouble && s.SequenceEqual(t.Shape!)))
                    yield return new Term(Op.Arg, s, [], i);
            foreach (var v in scope)
                if ((v.Shape is null ? t.IsDouble : !t.IsDouble && v.Shape.SequenceEqual(t.Shape!)) && !(inLoop && v.HasConstant))
                    yield return new Term(Op.Var, v.Shape, [], v);
            // a double that still depends on the input (a constant would make a condition static)
            if (t.IsDouble && t.Size > 2)
                for (int i = 0; i < layout.Leaves.Count; i++)
                    if (layout.Leaves[i] is { } s)
                        yield return new Term(Op.ToDouble, null, [new Term(Op.Arg, s, [], i)]);
            if (t.IsDouble || !inLoop) yield return new Term(Op.Const, t.Shape, [], 0.5);
        }
        // 2. by one of its operands of the same type
        if (t.Op == Op.Let)
        {
            if (SameType(t.Args[0], t)) yield return t.Args[0];
            // (only a value without Np.Let of its own is substituted, so the number of Np.Let always falls: shrinking ends)
            if (!ContainsLet(t.Args[0])) yield return t.Args[1].Substitute(((VarRef)t.Attr!).Id, t.Args[0]);
        }
        else if (t.IsLoop)
        {
            // the operands outside the loop's scope (its initial value, a Scan's sequence)
            for (int i = 0; i < t.Args.Length; i++)
                if (!t.InLoopScope(i) && SameType(t.Args[i], t)) yield return t.Args[i];
        }
        else if (t.Op != Op.InDomain)
            foreach (var a in t.Args)
                if (SameType(a, t)) yield return a;
        // 3. shrink inside
        for (int i = 0; i < t.Args.Length; i++)
        {
            var inner = scope;
            if (t.Op == Op.Let && i == 1) inner = [.. scope, (VarRef)t.Attr!];
            if (t.InLoopScope(i)) inner = [.. scope, .. t.LoopVars()];
            foreach (var a in ShrinkTerm(t.Args[i], layout, inner, inLoop || t.IsLoop))
                yield return t.With(i, a);
        }
    }

    /// <summary>Top-down generation of one program from a seed.</summary>
    sealed class Generator(int seed, ProgramOptions o)
    {
        readonly Random rng = new(seed);
        ArgLayout layout = null!;
        readonly List<VarRef> scope = new();
        int budget, nextVar;
        /// <summary>Tensor leaves that no double may depend on (so that <c>Ad.Vmap</c> can batch them).</summary>
        HashSet<int> batchLeaves = [];
        /// <summary>True while generating double code (and the tensors under a <c>(double)</c> cast): batched leaves are out of reach.</summary>
        bool scalar;
        /// <summary>True while generating a loop's operands: no tensor constant (a float64 constant would change a float32 carry's dtype).</summary>
        bool inLoop;

        int Int(int lo, int hi) => rng.Next(lo, hi + 1);
        bool Chance(double p) => rng.NextDouble() < p;
        T Pick<T>(IReadOnlyList<T> xs) => xs[rng.Next(xs.Count)];
        double Uniform(double lo, double hi) => lo + (hi - lo) * rng.NextDouble();

        int[] RandomShape(int minRank = 0)
        {
            int r = Int(minRank, o.MaxRank);
            return Enumerable.Range(0, r).Select(_ => Chance(0.25) ? 1 : Int(1, o.MaxDim)).ToArray();
        }

        public RandomProgram Program()
        {
            var kind = Pick(Enum.GetValues<ArgKind>());
            var shapes = new[] { RandomShape(), RandomShape() };
            // a lone tensor argument is batched, so double code needs another tensor: a fixed y is then more frequent
            layout = new ArgLayout(kind, shapes, Chance(kind == ArgKind.Tensor ? 0.6 : 0.25) ? RandomShape() : null);
            // double code is kept off a random nonempty set of tensor leaves, usually not all of them: Ad.Vmap batches
            // those (a double cannot carry a batch axis), and the other leaves still flow into (double) casts and conditions
            var tensors = Enumerable.Range(0, layout.Leaves.Count).Where(i => layout.Leaves[i] is not null).OrderBy(_ => rng.Next()).ToList();
            int nb = tensors.Count == 1 || Chance(0.2) ? tensors.Count : Int(1, tensors.Count - 1);
            batchLeaves = tensors.Take(nb).ToHashSet();
            // sizes: small programs more often, deep ones reachable
            int depth = Math.Min(o.MaxDepth, 1 + (int)Math.Floor(Math.Pow(rng.NextDouble(), 0.8) * o.MaxDepth));
            budget = Math.Max(1, (int)Math.Round(Math.Pow(rng.NextDouble(), 1.3) * o.MaxSize));
            var outs = new List<Term> { Output(depth) };
            if (o.PairOutputs && Chance(0.2)) outs.Add(Output(Math.Max(1, depth - 1)));
            return new RandomProgram(layout, outs.ToArray(), seed, true);
        }

        Term Output(int depth)
        {
            if (o.DoubleOutputs && Chance(0.2)) return Double(depth);
            var tensorLeaves = layout.Leaves.Where(s => s is not null).ToList();
            return Tensor(Chance(0.5) ? Pick(tensorLeaves)! : RandomShape(), depth);
        }

        // ------------------------------------------------------------------ leaves

        List<(Term Term, double Weight)> ExactLeaves(int[]? shape)
        {
            var r = new List<(Term, double)>();
            for (int i = 0; i < layout.Leaves.Count; i++)
                if (layout.Leaves[i] is var s && (s is null ? shape is null : shape is not null && s.SequenceEqual(shape)) && Reachable(i))
                    r.Add((new Term(Op.Arg, s, [], i), 3));
            foreach (var v in scope)
                if ((v.Shape is null ? shape is null : shape is not null && v.Shape.SequenceEqual(shape)) && Reachable(v))
                    r.Add((new Term(Op.Var, v.Shape, [], v), 6));
            return r;
        }

        T Weighted<T>(List<(T Item, double Weight)> xs)
        {
            double u = rng.NextDouble() * xs.Sum(x => x.Weight);
            foreach (var (item, w) in xs) { if ((u -= w) < 0) return item; }
            return xs[^1].Item;
        }

        static bool BroadcastsTo(int[] s, int[] target)
        {
            if (s.Length > target.Length) return false;
            for (int i = 1; i <= s.Length; i++)
                if (s[^i] != 1 && s[^i] != target[^i]) return false;
            return true;
        }

        bool Reachable(int leaf) => !scalar || !batchLeaves.Contains(leaf);
        bool Reachable(VarRef v) => (!scalar || !v.Batched) && !(inLoop && !scalar && v.HasConstant);

        IEnumerable<Term> AnyLeaves()
        {
            for (int i = 0; i < layout.Leaves.Count; i++) if (Reachable(i)) yield return new Term(Op.Arg, layout.Leaves[i], [], i);
            foreach (var v in scope) if (Reachable(v)) yield return new Term(Op.Var, v.Shape, [], v);
        }

        /// <summary>Whether a term depends on a batched leaf (directly or through a <c>Np.Let</c> variable).</summary>
        bool DependsOnBatch(Term t) => t.Op switch
        {
            Op.Arg => batchLeaves.Contains((int)t.Attr!),
            Op.Var => ((VarRef)t.Attr!).Batched,
            _ => t.Args.Any(DependsOnBatch),
        };

        VarRef NewVar(int[]? shape, Term value) => new(nextVar++, shape, value.Bound, DependsOnBatch(value)) { HasConstant = shape is not null && value.HasTensorConstant };

        /// <summary>Double code (and the tensors it casts) is generated with the batched leaves out of reach.</summary>
        Term Scalar(Func<Term> make)
        {
            bool outer = scalar;
            scalar = true;
            try { return make(); }
            finally { scalar = outer; }
        }

        Term TensorLeaf(int[] shape)
        {
            var c = ExactLeaves(shape);
            foreach (var l in AnyLeaves())
            {
                if (l.Shape is { } s && !s.SequenceEqual(shape) && BroadcastsTo(s, shape)) c.Add((new Term(Op.BroadcastTo, shape, [l]), 1));
            }
            var tensorLeaves = AnyLeaves().Where(t => !t.IsDouble).ToList();
            // a shape no leaf has (the operands of fixed-shape specs): a leaf's elements reshaped or gathered into it
            if (c.Count == 0 && tensorLeaves.Count > 0 && shape.Length > 0)
                c.Add((Adapt(Pick(tensorLeaves), shape), 2));
            if ((c.Count == 0 || Chance(0.1)) && tensorLeaves.Count > 0)
            {
                // reduce any leaf to a scalar, then broadcast it
                var l = Pick(tensorLeaves);
                var s0 = l.Shape!.Length == 0 ? l : Valid(new Term(Op.Spec, [], [l], new SpecCall(Pick(Reductions), new Reduction(null, false)))) ?? l;
                if (s0.Shape!.Length > 0) s0 = new Term(Op.Spec, [], [l], new SpecCall(Reductions.MinBy(r => new Term(Op.Spec, [], [l], new SpecCall(r, new Reduction(null, false))).Bound)!, new Reduction(null, false)));
                c.Add((shape.Length == 0 ? s0 : new Term(Op.BroadcastTo, shape, [s0]), 2));
            }
            if (c.Count == 0 && (!inLoop || scalar) || Chance(0.03) && !inLoop) return new Term(Op.Const, shape, [], Math.Round(Uniform(-2, 2), 2));
            return Weighted(c);
        }

        Term DoubleLeaf()
        {
            var c = ExactLeaves(null);
            foreach (var l in AnyLeaves())
                if (!l.IsDouble) c.Add((new Term(Op.ToDouble, null, [l]), 1));
            if (c.Count == 0 || Chance(0.05)) return new Term(Op.Const, null, [], Math.Round(Uniform(-2, 2), 2));
            return Weighted(c);
        }

        // ------------------------------------------------------------------ helpers

        /// <summary>Squashes an operand whose bound is too large for its parent.</summary>
        static Term Squash(Term t) => t.Op is Op.FromDouble or Op.InDomain ? new(t.Op, t.Shape, [Squash(t.Args[0])], t.Attr) : Tanh(t);

        /// <summary>The squashing function: the table's Tanh (any elementwise spec of bound 1 on every input would do).</summary>
        static Term Tanh(Term t) => new(Op.Spec, t.Shape, [t], new SpecCall(Squasher, null));

        static readonly SpecOp Squasher = SpecOp.Of(SpecFamily.Elementwise).First(o => o.Arity == 1 && o.DoubleFunction is not null && o.Domains[0] == Domain.Any && o.ElementwiseBound([1e6]) <= 1.1 && o.ElementwiseBound([1]) > 0.5);
        static readonly IReadOnlyList<SpecOp> Elementwise = SpecOp.Of(SpecFamily.Elementwise);
        static readonly IReadOnlyList<SpecOp> DoubleElementwise = Elementwise.Where(o => o.DoubleFunction is not null).ToArray();
        static readonly IReadOnlyList<SpecOp> Reductions = SpecOp.Of(SpecFamily.Reduction);
        static readonly IReadOnlyList<SpecOp> AlongAxis = SpecOp.Of(SpecFamily.AlongAxis);
        static readonly IReadOnlyList<SpecOp> FixedShapes = SpecOp.Of(SpecFamily.FixedShapes);

        static Term? Valid(Term t) => t.Valid() ? t : null;

        Term? Finish(Term t)
        {
            // keep every bound below the maximum and every domain respected: squash the largest operand until it is
            for (int guard = 0; guard < 8 && (!t.LocalValid() || !(t.Bound <= Term.MaxBound)); guard++)
            {
                int i = Enumerable.Range(0, t.Args.Length).MaxBy(k => t.Args[k].Bound);
                t = t.With(i, Squash(t.Args[i]));
            }
            return t.LocalValid() && t.Bound <= Term.MaxBound ? t : null;
        }

        /// <summary>A shape that broadcasts to <paramref name="s"/>: some leading axes dropped, some axes set to 1.</summary>
        int[] Reduced(int[] s)
        {
            int drop = Chance(0.5) ? 0 : Int(0, s.Length);
            return s.Skip(drop).Select(d => Chance(0.3) ? 1 : d).ToArray();
        }

        // ------------------------------------------------------------------ tensors

        Term Tensor(int[] s, int depth)
        {
            if (depth <= 1 || budget <= 0 || Chance(0.12)) return TensorLeaf(s);
            budget--;
            int r = s.Length;
            var ops = new List<(Func<Term?> Make, double Weight)>
            {
                (() => ElementwiseT(s, depth), 6.3),
                (() => ReduceTo(s, depth), 1.5),
                (() => Let(s, depth), 0.7),
            };
            if (o.Conditionals)
                ops.Add((() => Finish(new Term(Op.Cond, s, [Double(depth - 1), Tensor(s, depth - 1), Tensor(s, depth - 1)])), 0.4));
            if (r >= 1 && AlongAxis.Count > 0) ops.Add((() => Finish(new Term(Op.Spec, s, [Tensor(s, depth - 1)], new SpecCall(Pick(AlongAxis), Int(-1, r - 1)))), 0.5));
            if (r <= 2) ops.Add((() => DotTo(s, depth), 0.7));
            if (r is 2 or 3) ops.Add((() => MatMulTo(s, depth), 0.5));
            if (r >= 2) ops.Add((() => TransposeTo(s, depth), 0.4));
            ops.Add((() => ReshapeTo(s, depth), 0.4));
            if (r >= 1) ops.Add((() => { var c = Reduced(s); return c.SequenceEqual(s) ? null : new Term(Op.BroadcastTo, s, [Tensor(c, depth - 1)]); }, 0.3));
            if (s.Any(d => d >= 2)) ops.Add((() => ConcatTo(s, depth), 0.4));
            if (s.Any(d => d is 2 or 3)) ops.Add((() => StackTo(s, depth), 0.3));
            if (r >= 1) ops.Add((() => TakeTo(s, depth), 0.4));
            if (FixedShapes.Count > 0) ops.Add((() => FixedTo(s, depth), 1.2));
            foreach (var f in o.UserFunctions) ops.Add((() => Finish(new Term(Op.User, s, [Tensor(s, depth - 1)], f)), 1.0 / o.UserFunctions.Count));
            // loops in tensor code (in double code their carries would be out of reach of the batch)
            if (o.Loops && !scalar && depth >= 3)
            {
                ops.Add((() => InLoop(() => Fold(s, depth)), 0.4));
                ops.Add((() => InLoop(() => Scan(s, depth)), 0.5));
                ops.Add((() => InLoop(() => While(s, depth)), 0.45));
            }
            for (int attempt = 0; attempt < 4; attempt++)
                if (Weighted(ops)() is { } t) return t;
            return TensorLeaf(s);
        }

        /// <summary>An operand of a spec put into the spec's domain for that operand.</summary>
        static Term InDomain(Term a, Domain d) => d == Domain.Any ? a : new Term(Op.InDomain, a.Shape, [a], d);

        /// <summary>
        /// An elementwise spec of the table applied to operands that broadcast to <paramref name="s"/> (or to doubles when
        /// <paramref name="s"/> is null, through the spec's double form). A spec whose body is one operator also mixes a
        /// tensor and a double (<c>x * d</c>), and <c>+ - *</c> take <c>(Tensor)d</c>, a weak scalar, beside a float64
        /// tensor. Each operand is put into the spec's domain.
        /// </summary>
        Term? ElementwiseT(int[]? s, int depth)
        {
            if (s is null)
            {
                if (DoubleElementwise.Count == 0) return null;
                var dop = Pick(DoubleElementwise);
                return Finish(new Term(Op.Spec, null, Enumerable.Range(0, dop.Arity).Select(i => InDomain(Double(depth - 1), dop.Domains[i])).ToArray(), new SpecCall(dop, null)));
            }
            var op = Pick(Elementwise);
            var args = new Term[op.Arity];
            int mode = Int(0, 7);
            if (!op.IsOperator) mode = Math.Min(mode, 2);
            else if (mode == 6 && !(op.TakesWeakScalar && op.Domains[1] == Domain.Any) || mode == 7 && !(op.TakesWeakScalar && op.Domains[0] == Domain.Any)) mode = 3;
            switch (mode)
            {
                case 3: args = [Tensor(s, depth - 1), Double(depth - 1)]; break;
                case 4: args = [Double(depth - 1), Tensor(s, depth - 1)]; break;
                case 5: args = [Tensor(s, depth - 1), new Term(Op.Const, null, [], Math.Round(Uniform(-2, 2), 2))]; break;
                case 6: args = [Tensor(s, depth - 1), new Term(Op.FromDouble, [], [Double(depth - 1)])]; break;
                case 7: args = [new Term(Op.FromDouble, [], [Double(depth - 1)]), Tensor(s, depth - 1)]; break;
                default:
                    // one operand of the full shape, the others of the full shape or of shapes that broadcast to it
                    int full = Int(0, op.Arity - 1);
                    for (int i = 0; i < op.Arity; i++) args[i] = Tensor(mode == 0 || i == full ? s : Reduced(s), depth - 1);
                    break;
            }
            for (int i = 0; i < args.Length; i++) args[i] = args[i].Op == Op.FromDouble ? args[i] : InDomain(args[i], op.Domains[i]);
            return Finish(new Term(Op.Spec, s, args, new SpecCall(op, null)));
        }

        /// <summary>
        /// A fixed-shape spec (contractions, indexing, shape and cumulative operations, ...) on operands of exactly its
        /// own inputs' shapes, each put into its domain; its result (the spec's output shape) is then brought to
        /// <paramref name="s"/> by <see cref="Adapt"/>.
        /// </summary>
        Term? FixedTo(int[] s, int depth)
        {
            var op = Pick(FixedShapes);
            var args = op.InputShapes!.Select((shape, i) => InDomain(Tensor(shape, depth - 1), op.Domains[i])).ToArray();
            return Finish(new Term(Op.Spec, op.OutputShape, args, new SpecCall(op, null))) is { } t ? Adapt(t, s) : null;
        }

        /// <summary>
        /// A term brought to shape <paramref name="s"/> by the structural ops: a reshape when the sizes agree, else a
        /// <c>Np.Take</c> of random elements of the flattened term (reshaped to <paramref name="s"/>).
        /// </summary>
        Term Adapt(Term t, int[] s)
        {
            if (t.Shape!.SequenceEqual(s)) return t;
            int n = t.Shape!.Aggregate(1, (a, b) => a * b), m = s.Aggregate(1, (a, b) => a * b);
            if (n == m) return new Term(Op.Reshape, s, [t], (int[])s.Clone());
            var flat = t.Shape!.Length == 1 ? t : new Term(Op.Reshape, [n], [t], new[] { n });
            var taken = new Term(Op.Take, [m], [flat], new Gather(Enumerable.Range(0, m).Select(_ => (double)Int(0, n - 1)).ToArray(), 0));
            return s.Length == 1 ? taken : new Term(Op.Reshape, s, [taken], (int[])s.Clone());
        }

        Term? ReduceTo(int[] s, int depth)
        {
            if (Reductions.Count == 0) return null;
            var op = Pick(Reductions);
            int r = s.Length;
            int[] input; Reduction red;
            int choice = Int(0, 2);
            if (r == 0 && choice == 0) { input = RandomShape(); red = new Reduction(null, false); }
            else if (choice <= 1 && r < o.MaxRank)
            {
                int ax = Int(0, r);
                input = [.. s.Take(ax), Int(1, o.MaxDim), .. s.Skip(ax)];
                red = new Reduction(Chance(0.5) ? ax : ax - (r + 1), false);
            }
            else
            {
                var ones = Enumerable.Range(0, r).Where(i => s[i] == 1).ToList();
                if (ones.Count == 0) return null;
                int ax = Pick(ones);
                input = (int[])s.Clone(); input[ax] = Int(1, o.MaxDim);
                red = new Reduction(Chance(0.5) ? ax : ax - r, true);
            }
            return Finish(new Term(Op.Spec, s, [Tensor(input, depth - 1)], new SpecCall(op, red)));
        }

        Term Let(int[] s, int depth)
        {
            int[]? vs = Chance(0.15) ? null : Chance(0.6) ? s : RandomShape();
            var value = vs is null ? Double(depth - 1) : Tensor(vs, depth - 1);
            var v = NewVar(vs, value);
            scope.Add(v);
            var body = Tensor(s, depth - 1);
            scope.Remove(v);
            return new Term(Op.Let, s, [value, body], v);
        }

        Term? DotTo(int[] s, int depth)
        {
            int k = Int(1, o.MaxDim);
            var (a, b) = s.Length switch
            {
                0 => (new[] { k }, new[] { k }),
                1 => Chance(0.5) ? (new[] { s[0], k }, new[] { k }) : (new[] { k }, new[] { k, s[0] }),
                _ => (new[] { s[0], k }, new[] { k, s[1] }),
            };
            return Finish(new Term(Op.Dot, s, [Tensor(a, depth - 1), Tensor(b, depth - 1)]));
        }

        Term? MatMulTo(int[] s, int depth)
        {
            int k = Int(1, o.MaxDim);
            int m = s[^2], n = s[^1];
            int[] a, b;
            if (s.Length == 2) { a = [m, k]; b = [k, n]; }
            else
            {
                int B = s[0];
                (a, b) = Int(0, 3) switch
                {
                    0 => (new[] { B, m, k }, new[] { k, n }),
                    1 => (new[] { B, m, k }, new[] { B, k, n }),
                    2 => (new[] { B, m, k }, new[] { 1, k, n }),
                    _ => (new[] { m, k }, new[] { B, k, n }),
                };
            }
            return Finish(new Term(Op.MatMul, s, [Tensor(a, depth - 1), Tensor(b, depth - 1)]));
        }

        Term TransposeTo(int[] s, int depth)
        {
            int r = s.Length;
            if (Chance(0.3))
                return new Term(Op.Transpose, s, [Tensor(s.Reverse().ToArray(), depth - 1)], null);
            var perm = Enumerable.Range(0, r).OrderBy(_ => rng.Next()).ToArray();
            // output[i] = input[perm[i]]
            var input = new int[r];
            for (int i = 0; i < r; i++) input[perm[i]] = s[i];
            return new Term(Op.Transpose, s, [Tensor(input, depth - 1)], perm);
        }

        Term? ReshapeTo(int[] s, int depth)
        {
            int n = s.Aggregate(1, (a, b) => a * b);
            var cands = new List<int[]>();
            void Add(int[] c) { if (c.Aggregate(1, (a, b) => a * b) == n && !c.SequenceEqual(s)) cands.Add(c); }
            Add([]); Add([n]);
            for (int a = 1; a <= n; a++)
            {
                Add([a, n / Math.Max(1, a)]);
                for (int b = 1; b <= n; b++) Add([a, b, n / Math.Max(1, a * b)]);
            }
            cands = cands.Where(c => c.All(d => d >= 1)).ToList();
            if (cands.Count == 0) return null;
            var input = Pick(cands);
            var target = (int[])s.Clone();
            if (s.Length > 0 && Chance(0.3)) target[Int(0, s.Length - 1)] = -1;
            return new Term(Op.Reshape, s, [Tensor(input, depth - 1)], target);
        }

        Term ConcatTo(int[] s, int depth)
        {
            var axes = Enumerable.Range(0, s.Length).Where(i => s[i] >= 2).ToList();
            int ax = Pick(axes);
            var sizes = new List<int>();
            int left = s[ax];
            while (left > 0) { int k = Int(1, left); if (sizes.Count == 1 && k == left && Chance(0.5)) k = 1; sizes.Add(k); left -= k; }
            if (sizes.Count == 1) { sizes = [1, s[ax] - 1]; }
            var parts = sizes.Select(k => { var p = (int[])s.Clone(); p[ax] = k; return Tensor(p, depth - 1); }).ToArray();
            return new Term(Op.Concatenate, s, parts, Chance(0.5) ? ax : ax - s.Length);
        }

        Term StackTo(int[] s, int depth)
        {
            var axes = Enumerable.Range(0, s.Length).Where(i => s[i] is 2 or 3).ToList();
            int ax = Pick(axes);
            var part = s.Where((_, i) => i != ax).ToArray();
            var parts = Enumerable.Range(0, s[ax]).Select(_ => Tensor(part, depth - 1)).ToArray();
            return new Term(Op.Stack, s, parts, Chance(0.5) ? ax : ax - s.Length);
        }

        Term TakeTo(int[] s, int depth)
        {
            int ax = Int(0, s.Length - 1);
            int n = Int(1, o.MaxDim);
            var input = (int[])s.Clone(); input[ax] = n;
            var idx = Enumerable.Range(0, s[ax]).Select(_ => (double)Int(0, n - 1)).ToArray();
            return new Term(Op.Take, s, [Tensor(input, depth - 1)], new Gather(idx, ax));
        }

        // ------------------------------------------------------------------ loops

        Term? InLoop(Func<Term?> make)
        {
            bool outer = inLoop;
            inLoop = true;
            try { return make(); }
            finally { inLoop = outer; }
        }

        /// <summary>
        /// A carry of the given shape and bound, kept out of double code (a double computed from a carry would be one
        /// per example under Vmap, which a loop body cannot capture).
        /// </summary>
        VarRef Carry(int[] s, double bound, string name) { int id = nextVar++; return new VarRef(id, s, bound, true) { Name = name + id }; }

        /// <summary>A body generated with the loop's variables in scope, squashed when its bound exceeds the carry's.</summary>
        Term Body(int[] s, int depth, VarRef carry, params VarRef[] vars)
        {
            scope.Add(carry); scope.AddRange(vars);
            var body = Tensor(s, depth);
            scope.Remove(carry); foreach (var v in vars) scope.Remove(v);
            return body.Bound <= carry.Bound ? body : Squash(body);
        }

        Term? Fold(int[] s, int depth)
        {
            var init = Tensor(s, depth - 1);
            var carry = Carry(s, Math.Max(init.Bound, 1), "c");
            int n = Int(1, 4);
            var i = new VarRef(nextVar++, null, n - 1) { Name = "i" + carry.Id };
            var body = Body(s, depth - 1, carry, i);
            return Valid(new Term(Op.Fold, s, [init, body], new Loop(carry, i, n)));
        }

        Term? Scan(int[] s, int depth)
        {
            // the result: the final carry (of shape s), the stacked ys ([n, ...] = s), or both added (ys of shape s)
            int mode = s.Length == 0 ? Pick(new[] { 0, 2 }) : Int(0, 2);
            int n = mode == 1 ? s[0] : Int(1, o.MaxDim);
            int[] carryShape = mode == 1 ? RandomShape() : s, yShape = mode == 1 ? s[1..] : mode == 2 ? s : RandomShape();
            var rowShape = Enumerable.Range(0, Int(0, o.MaxRank - 1)).Select(_ => Int(1, o.MaxDim)).ToArray();
            var xs = Tensor([n, .. rowShape], depth - 1);
            var init = Tensor(carryShape, depth - 1);
            var carry = Carry(carryShape, Math.Max(init.Bound, 1), "c");
            var row = new VarRef(nextVar++, rowShape, xs.Bound, DependsOnBatch(xs)) { Name = "row" + carry.Id };
            var body = Body(carryShape, depth - 1, carry, row);
            scope.Add(carry); scope.Add(row);
            var y = Tensor(yShape, depth - 1);
            scope.Remove(carry); scope.Remove(row);
            if (!(y.Bound * (mode == 2 ? n + 1 : 1) <= Term.MaxBound)) y = Squash(y);
            int checkpoint = Chance(0.2) ? Int(2, 3) : 1;
            return Valid(new Term(Op.Scan, s, [init, xs, body, y], new Loop(carry, row, checkpoint, mode)));
        }

        Term? While(int[] s, int depth)
        {
            var init = Tensor(s, depth - 1);
            int id = nextVar++;
            var carry = new VarRef(id, s, Math.Max(init.Bound, 1), true) { Name = $"w{id}.Item1" };
            // the condition: a scalar of the carry, compared with a threshold inside its range (so the trips vary with the data)
            scope.Add(carry);
            var cond = Tensor([], depth - 1);
            scope.Remove(carry);
            double threshold = Math.Round(Uniform(-0.5, 0.5) * Math.Min(cond.Bound, 2), 2);
            var body = Body(s, depth - 1, carry);
            return Valid(new Term(Op.While, s, [init, cond, body], new Loop(carry, null, Int(1, 4), 0, threshold)));
        }

        // ------------------------------------------------------------------ doubles

        Term Double(int depth) => Scalar(() => DoubleCode(depth));

        Term DoubleCode(int depth)
        {
            if (depth <= 1 || budget <= 0 || Chance(0.15)) return DoubleLeaf();
            budget--;
            var ops = new List<(Func<Term?> Make, double Weight)>
            {
                (() => ElementwiseT(null, depth), 4),
                (() => new Term(Op.ToDouble, null, [Tensor(Chance(0.3) ? [] : RandomShape(), depth - 1)]), 2),
                (() => { var vs = Chance(0.5) ? null : RandomShape(); var value = vs is null ? Double(depth - 1) : Tensor(vs, depth - 1);
                         var v = NewVar(vs, value); scope.Add(v); var body = Double(depth - 1); scope.Remove(v);
                         return new Term(Op.Let, null, [value, body], v); }, 0.4),
            };
            if (o.Conditionals) ops.Add((() => Finish(new Term(Op.Cond, null, [Double(depth - 1), Double(depth - 1), Double(depth - 1)])), 0.3));
            for (int attempt = 0; attempt < 4; attempt++)
                if (Weighted(ops)() is { } t) return t;
            return DoubleLeaf();
        }
    }
}
