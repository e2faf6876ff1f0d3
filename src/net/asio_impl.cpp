// The one translation unit that compiles Asio's implementation. Every other
// file of every module compiles against it with BOOST_ASIO_SEPARATE_COMPILATION
// (set PUBLIC on roadmq::net), so Asio's .ipp files are parsed once per build.
// A future TLS transport adds <boost/asio/ssl/impl/src.hpp> beside it.
#include <boost/asio/impl/src.hpp>
