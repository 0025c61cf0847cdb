// Bug: a PrintWriter without autoflush, never flushed: the echo waits in its buffer,
// and closing the socket (not the writer) throws the buffer away.
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

public class Server {
    public static void main(String[] args) {
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(Integer.parseInt(args[0])));
            while (true) {
                Socket client = server.accept();
                new Thread(() -> echo(client)).start();
            }
        } catch (IOException e) {
            System.err.println("server: " + e.getMessage());
            System.exit(1);
        }
    }

    static void echo(Socket client) {
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream()));
            PrintWriter out = new PrintWriter(client.getOutputStream());
            String line;
            while ((line = in.readLine()) != null) {
                out.println(line);
            }
            client.close();
        } catch (IOException e) {
            // client gone
        }
    }
}
