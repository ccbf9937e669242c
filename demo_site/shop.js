/* The demo shop's own page code: a product list, a cart in localStorage, a fake login.
   Everything ekEvents sees goes through ekEvents.push, as on a customer's site. */
'use strict';
var PRODUCTS = [
  {product_id: 'tee-red', name: 'Red shirt', price: 19.9, category: 'Shirts', color: '#d64545'},
  {product_id: 'tee-blue', name: 'Blue shirt', price: 19.9, category: 'Shirts', color: '#3d6fd6'},
  {product_id: 'cap-black', name: 'Black cap', price: 14.5, category: 'Hats', color: '#2b2b2b'},
  {product_id: 'mug-white', name: 'White mug', price: 9.0, category: 'Home', color: '#e9e9e9'}
];

function product(id) {
  return PRODUCTS.filter(function (p) { return p.product_id === id; })[0];
}
function cart() {
  try { return JSON.parse(localStorage.getItem('demo_cart') || '[]'); } catch (e) { return []; }
}
function saveCart(items) { localStorage.setItem('demo_cart', JSON.stringify(items)); }
function cartId() {
  var id = localStorage.getItem('demo_cart_id');
  if (!id) { id = 'cart-' + Math.random().toString(36).slice(2, 10); localStorage.setItem('demo_cart_id', id); }
  return id;
}
function addToCart(id) {
  var p = product(id), items = cart();
  items.push({product_id: p.product_id, name: p.name, price: p.price, quantity: 1});
  saveCart(items);
  ekEvents.push('add-to-cart', {params: {cart_id: cartId(), product_id: p.product_id, name: p.name, price: p.price, quantity: 1}});
}
function card(p) {
  return '<div class="card"><div class="swatch" style="background:' + p.color + '"></div>' +
    '<h3><a href="product.html?id=' + p.product_id + '">' + p.name + '</a></h3>' +
    '<div class="price">€' + p.price.toFixed(2) + '</div></div>';
}
