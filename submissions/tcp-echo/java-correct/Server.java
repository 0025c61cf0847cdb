// TCP echo server in Java: one thread per client, read() until -1, write() what came.
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

public class Server {
    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: java Server PORT");
            System.exit(2);
        }
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(Integer.parseInt(args[0])));
            while (true) {
                Socket client = server.accept();
                Thread t = new Thread(() -> echo(client));
                t.setDaemon(true);
                t.start();
            }
        } catch (IOException e) {
            System.err.println("server: " + e.getMessage());
            System.exit(1);
        }
    }

    static void echo(Socket client) {
        try (client) {
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) != -1) {
                out.write(buf, 0, n);     // OutputStream.write writes all n bytes
            }
        } catch (IOException e) {
            // the client reset the connection: only this client is lost
        }
    }
}
