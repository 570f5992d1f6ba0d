#:project ../Functional.AD/Functional.AD.csproj
// A one-file tour of Functional.AD: grad, jit, vmap and a printed derivative, on the XOR net of the JAX tutorial.
// Run from the repository root: dotnet run Examples/tour.cs
using System.Linq.Expressions;
using Functional.AD;
using static Functional.AD.Np;

// 1. A function is an expression; Ad.Grad returns its derivative as a new expression, printable as C#.
Expression<Func<double, double>> f = x => Math.Sin(x) * x;
var df = Ad.Grad(f);
Console.WriteLine(Ad.Show(df));
Console.WriteLine($"f'(2) = {df.Compile()(2.0):F6}, known: sin 2 + 2 cos 2 = {Math.Sin(2) + 2 * Math.Cos(2):F6}");

// 2. The XOR net: parameters are a pytree (a record of tensors); the loss is numpy-style code.
Expression<Func<Tensor, Tensor>> sigmoid = x => 1.0 / (1 + Exp(-x));
Expression<Func<Params, Tensor, Tensor>> net = (p, x) => sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2);
Expression<Func<Params, Tensor, Tensor, Tensor>> loss =
    (p, x, y) => Let(net.Invoke(p, x), o => -y * Log(o) - (1 - y) * Log(1 - o));

// 3. Vmap maps the per-example gradient over a batch (axis 0 of x and y, the parameters shared);
//    Jit compiles it for the shapes of the first call.
var batchGrad = Ad.Jit(Ad.Vmap(Ad.Grad(loss), inAxes: [null, 0, 0]));
var xs = new Tensor(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } });
var ys = new Tensor(new float[] { 0, 1, 1, 0 });

// 4. Train with full-batch gradient descent from a reproducible random start.
var p = Tree.Normal(PrngKey.Create(0), new Params(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));
var losses = Ad.Jit(Ad.Vmap(loss, inAxes: [null, 0, 0]));            // the loss of each example
for (int step = 0; step <= 2000; step++)
{
    var grads = batchGrad(p, xs, ys);                                // one gradient per example
    p = Tree.Map((w, g) => w - 1.0 * Mean(g, 0, false), p, grads);   // the mean over the batch, an SGD step
    if (step % 500 == 0)
        Console.WriteLine($"step {step,4}: mean loss {(double)Mean(losses(p, xs, ys)):F4}");
}

// 5. The trained net answers XOR.
var outputs = Ad.Vmap(net, inAxes: [null, 0]).Compile()(p, xs).ToFloatArray();
bool solved = true;
for (int i = 0; i < 4; i++)
{
    Console.WriteLine($"[{xs.Item(i, 0)} {xs.Item(i, 1)}] -> {outputs[i]:F3}");
    solved &= (outputs[i] > 0.5) == (ys.Item(i) > 0.5);
}
Console.WriteLine(solved ? "XOR solved" : "XOR not solved");
return solved ? 0 : 1;

record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);
