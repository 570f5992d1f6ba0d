// Per-example gradients with Ad.Vmap(Ad.Grad(loss)): their norms, clipping, and the DP-SGD step built on them
// (Abadi et al. 2016, "Deep Learning with Differential Privacy", Algorithm 1). Checked against a loop of Ad.Grad.
// Run: dotnet run --project Examples/PerExampleGradients -c Release
using System.Linq.Expressions;
using Functional.AD;
using static Functional.AD.Np;

// A small MLP, 4 -> 8 -> 1, regressing y = sin(x0) + x1 * x2 - x3, in float64.
Expression<Func<Mlp, Tensor, Tensor, Tensor>> loss = (p, x, y) =>
    Let(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2 - y, e => e * e);

var key = PrngKey.Create(0);
var keys = key.Split(4);
var parameters = Tree.Normal(keys[0], new Mlp(Zeros([8, 4], DType.Float64), Zeros([8], DType.Float64), Zeros([8], DType.Float64), Zeros([], DType.Float64)), scale: 0.5);
const int batch = 32;
Tensor Targets(Tensor x) => Reshape(Sin(Take(x, new Tensor(new[] { 0.0 }), 1)) + Take(x, new Tensor(new[] { 1.0 }), 1) * Take(x, new Tensor(new[] { 2.0 }), 1) - Take(x, new Tensor(new[] { 3.0 }), 1), [-1]);

// 1. per-example gradients: every leaf gains a leading axis of size 32
var perExample = Ad.Vmap(Ad.Grad(loss), inAxes: [null, 0, 0]).Compile();
var single = Ad.Grad(loss).Compile();
var xs = Rng.Normal(keys[1], [batch, 4], DType.Float64);
var ys = Targets(xs);
var g = perExample(parameters, xs, ys);
Console.WriteLine($"per-example gradient of W1: {g.W1.Aval}");

// ... and the same numbers from a loop of single-example gradients
double worst = 0;
for (int i = 0; i < batch; i++)
{
    var idx = new Tensor(new[] { (double)i });
    var gi = single(parameters, Reshape(Take(xs, idx, 0), [4]), Reshape(Take(ys, idx, 0), []));
    foreach (var (a, b) in Tree.Zip(gi, Tree.Map(t => Reshape(Take(t, idx, 0), t.Shape.Skip(1).ToArray()), g)))
        worst = Math.Max(worst, (double)Max(Abs(a - b), null, false));
}
Console.WriteLine($"largest difference from a loop of Ad.Grad: {worst:G3}");
if (worst > 1e-12) { Console.WriteLine("MISMATCH"); return 1; }

// 2. per-example gradient norms: sum the squares of every leaf over all but the batch axis
Tensor Norms(Mlp grads) => Sqrt(Tree.Leaves(grads).Select(t => Sum(Reshape(t * t, [batch, -1]), 1, false)).Aggregate(Add));
var norms = Norms(g);
Console.WriteLine($"per-example gradient norms: min {-(double)Max(-norms, null, false):F4}, max {(double)Max(norms, null, false):F4}");

// 3. clipping to norm C, the mean, and Gaussian noise of scale sigma * C / batch: one DP-SGD step
const double clip = 1.0, sigma = 1.0, learningRate = 0.05;
Mlp Clip(Mlp grads, Tensor n) => Tree.Map(t => t * Reshape(Minimum(new Tensor(1.0), clip / n), [batch, .. Enumerable.Repeat(1, t.Rank - 1)]), grads);
var clipped = Clip(g, norms);
Console.WriteLine($"clipped norms: max {(double)Max(Norms(clipped), null, false):F4} (at most {clip})");
if ((double)Max(Norms(clipped), null, false) > clip + 1e-12) { Console.WriteLine("CLIPPING FAILED"); return 1; }

var batchLoss = Ad.Vmap(loss, inAxes: [null, 0, 0]);
Expression<Func<Mlp, Tensor, Tensor, Tensor>> meanLoss = (p, x, y) => Mean(batchLoss.Invoke(p, x, y), null, false);
var meanLossFn = meanLoss.Compile();
var noiseKey = keys[2];
double before = (double)meanLossFn(parameters, xs, ys);
for (int step = 0; step < 300; step++)
{
    var (kx, kn) = PrngKey.Create(step + 1).Split();
    var bx = Rng.Normal(kx, [batch, 4], DType.Float64);
    var gs = perExample(parameters, bx, Targets(bx));
    var cg = Clip(gs, Norms(gs));
    var noisy = Tree.Map(t => Mean(t, 0, false), cg);
    var noiseKeys = kn.Split(4);
    int leaf = 0;
    noisy = Tree.Map(t => t + Rng.Normal(noiseKeys[leaf++], t.Shape.ToArray(), DType.Float64) * (sigma * clip / batch), noisy);
    parameters = Tree.Map((w, d) => w - learningRate * d, parameters, noisy);
}
double after = (double)meanLossFn(parameters, xs, ys);
Console.WriteLine($"mean loss on the first batch: {before:F4} before, {after:F4} after 300 DP-SGD steps");
return after < before ? 0 : 1;

/// <summary>The MLP's parameters: a pytree.</summary>
record Mlp(Tensor W1, Tensor B1, Tensor W2, Tensor B2);
