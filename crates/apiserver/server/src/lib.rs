pub use podnet_apiserver_store as store;
